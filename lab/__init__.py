"""Hromada Lab: sandbox labs that mirror a territorial community's IT stack."""

__version__ = "0.1.0"
