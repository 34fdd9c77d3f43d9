"""`python -m lab.cli` runs the `lab` command."""

from lab.cli import main

main()
