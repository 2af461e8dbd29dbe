"""The API against Datasette on the same SQLite file (``run.py``)."""
