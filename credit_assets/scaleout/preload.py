"""What steps import, loaded once by a process that forks step processes.

The code location itself imports none of MLflow, LightGBM, scikit-learn, matplotlib or Great
Expectations, so that every run's orchestrator (which never runs a step) starts light. The
processes that run steps import this module before they fork: Celery workers before their
pool starts (``credit_assets.scaleout.celery_app``), and the multiprocess executor's forkserver
(``credit_assets.scaleout.executors``). Each step process then starts with them loaded.
"""

import lightgbm  # noqa: F401 - imported for the side effect: loaded before the fork
import sklearn.pipeline  # noqa: F401

from credit_assets.core import features, registry, report  # noqa: F401
from credit_assets.core.expectations import validation_context

validation_context()  # GX's import and its in-memory context, built once
