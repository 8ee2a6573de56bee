"""Celery queue names, shared by the executor's step routing and the workers' command line."""

DEFAULT_QUEUE = "dagster"  # dagster-celery's default queue: ingest and daily scoring
TRAINING_QUEUE = "training"  # long training steps, on workers of their own
