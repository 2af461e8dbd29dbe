"""Throughput of ``GET /api/v1/measures/`` against a hand-written view returning the same JSON.

Run it with ``python3 benchmarks/api/run.py`` (``--help`` for the options).
"""
