"""The code location: every known dataset's definitions plus resources and the executor, set
once.

The datasets come from the platform's catalog (``core/catalog.py``), read when the code
location loads, never at import. The executor follows ``CREDIT_PROFILE``: multiprocess when
embedded, Celery when scaled out.
"""

import dagster as dg

from credit_assets.defs.dataset import dataset_definitions
from credit_assets.defs.resources import build_resources
from credit_assets.scaleout.executors import build_executor
from credit_assets.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    settings = Settings.from_env()
    datasets = settings.catalog().entries().values()
    return dg.Definitions.merge(
        *(dataset_definitions(entry, settings.partitions_start) for entry in datasets),
        dg.Definitions(
            resources=build_resources(settings),
            executor=build_executor(settings),
        ),
    )
