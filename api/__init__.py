"""The lab API (FastAPI). Routes call the use cases in lab/ only."""
