"""Placement and admission: where a lab runs, and whether it fits before anything is made."""
