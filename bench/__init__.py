"""Benchmarks of the facade against a hand-written aggregator and the optimal request count.

``python -m bench run`` (``make bench``) writes ``bench/results/latest.{json,md,png}``;
``python -m bench check`` (``make bench-check``) compares the JSON with the budget.
See ``bench/README.md``.
"""
