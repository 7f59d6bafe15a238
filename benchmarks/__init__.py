"""Reproducible speed comparisons of the gateway (commands, not timed tests).

Run everything with ``.venv/bin/python -m benchmarks.run`` (or ``scripts/bench``).
"""
