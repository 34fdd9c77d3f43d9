"""The catalogue: the software of all profiles side by side; the recommended stack and
each community's difference from it.

Pure functions over the profiles' software lists (entries.py: one entry per profile,
machine and product; views.py: the product × community matrix, one product, outstanding
permissions, data formats; unification.py: each community against the recommended stack;
export.py: CSV), and one loader (loader.py) that reads the profiles directory and keeps
what it read until a file changes.
"""
