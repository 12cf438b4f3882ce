"""Referloop's benchmark: ``make bench`` (or ``make bench-quick``) runs ``bench/run.py``."""
