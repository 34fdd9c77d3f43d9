"""The lab API (FastAPI). Routes call lab.service only; see issue 6."""
