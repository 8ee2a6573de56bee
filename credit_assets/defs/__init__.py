"""Thin Dagster wrappers around ``credit_assets.core``: assets, jobs, schedules, resources."""
