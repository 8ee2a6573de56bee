"""Thin Dagster wiring: every dataset known to the platform gets the same assets, checks,
jobs and schedules under its own name (``scope.py``)."""
