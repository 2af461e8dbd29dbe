"""One refresh cycle of many sources through the real pipeline, against LinkChecker.

Run it with ``.venv/bin/python benchmarks/linkcheck/run.py`` (``--help`` for the options).
"""
