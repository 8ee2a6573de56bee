"""The Celery app the workers run (``celery -A credit_assets.celery_app worker``).

It is dagster-celery's app and step task, built from the same settings as the executor in
``credit_assets.definitions``; importing the code location here, before the worker forks its
pool, means each step starts without re-importing it.
"""

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

import credit_assets.definitions  # noqa: F401  (preloaded for the forked pool processes)
from credit_assets.executors import celery_config
from credit_assets.settings import Settings

app = make_app(CeleryExecutor.for_cli(**celery_config(Settings.from_env())).app_args())
execute_plan = create_task(app)
