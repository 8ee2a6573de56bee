"""The executor, chosen by the profile: processes on this host, or Celery workers anywhere.

The Celery settings here are shared by the launcher (``build_executor``) and the workers
(``credit_assets.scaleout.celery_app``), so both sides always agree on broker, backend and queues.
"""

from typing import Any

import dagster as dg
from dagster_celery import celery_executor, core_execution_loop
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG

from credit_assets.scaleout.queues import TRAINING_QUEUE
from credit_assets.settings import Settings

TRAINING_OP_TAGS = {DAGSTER_CELERY_QUEUE_TAG: TRAINING_QUEUE}

# How often a run's orchestrator looks for finished steps (and so submits the next ones).
# dagster-celery sleeps a fixed second between looks and offers no setting: every step of a
# chain waited up to a second on the orchestrator, not on the broker. A look is a Redis read
# per step in flight, so ten a second cost an orchestrator about no CPU (docs/scaling.md).
RESULT_POLL_SECONDS = 0.1

CELERY_SETTINGS: dict[str, Any] = {
    # A step's message is acknowledged when the step has ended, not when it starts: if the
    # worker dies mid-step, the broker hands the step to another worker. Steps may run twice
    # safely because every file is written whole or not at all.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    # One step at a time per process, so a long step never holds queued ones hostage.
    "worker_prefetch_multiplier": 1,
    # A lost broker connection means the unacknowledged step goes back to the queue: stop the
    # copy that is running here rather than finishing it twice.
    "worker_cancel_long_running_tasks_on_connection_loss": True,
    "broker_connection_retry_on_startup": True,
    "result_expires": 7 * 24 * 3600,
}


def celery_config(settings: Settings) -> dict[str, Any]:
    """The ``celery_executor`` config block (the same one ``dagster-celery worker -y`` reads)."""
    return {
        "broker": settings.celery_broker,
        "backend": settings.celery_backend,
        "config_source": dict(CELERY_SETTINGS),
    }


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    if settings.profile == "scaleout":
        core_execution_loop.TICK_SECONDS = RESULT_POLL_SECONDS  # read by the loop at every look
        return celery_executor.configured(celery_config(settings), name="celery")
    # forkserver: step processes fork from one that has imported the code location and the
    # libraries steps use (credit_assets.scaleout.preload), instead of each importing them afresh
    # (seconds per step)
    preload = ["credit_assets.definitions", "credit_assets.scaleout.preload"]
    return dg.multiprocess_executor.configured(
        {"max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": preload}}}
    )
