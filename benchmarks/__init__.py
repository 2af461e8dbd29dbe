"""Runnable benchmarks; each has its own entry point and its latest figures in README.md."""
