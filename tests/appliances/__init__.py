"""Machines the lab does not manage, built the way their makers ship them, for the
integration tests that import them (see vendor.py)."""
