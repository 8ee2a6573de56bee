"""The Celery app the workers run (``celery -A credit_assets.scaleout.celery_app worker``).

It is dagster-celery's app and step task, built from the same settings as the executor in
``credit_assets.definitions``.
"""

import os
from importlib import import_module

from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from credit_assets.scaleout.executors import celery_config
from credit_assets.settings import Settings

app = make_app(CeleryExecutor.for_cli(**celery_config(Settings.from_env())).app_args())
execute_plan = create_task(app)

# Load the code location and the libraries steps use once here, before the worker forks its
# pool: the first load in a process costs seconds (imports, Dagster's lazy set-up), and every
# pool process, including one that replaces a crashed process, then starts its first step warm.
ReconstructableRepository.for_module(
    "credit_assets.definitions", "defs", os.getcwd()
).get_definition()
import_module("credit_assets.scaleout.preload")
