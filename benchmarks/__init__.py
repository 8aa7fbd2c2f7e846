"""Reproducible measurements of the course: run them all with ``python -m benchmarks``."""
