"""The code location: everything under ``defs/`` plus resources and the executor, set once.

The executor follows ``CREDIT_PROFILE``: multiprocess when embedded, Celery when scaled out.
"""

import dagster as dg

from credit_assets import defs as defs_package
from credit_assets.defs.resources import build_resources
from credit_assets.scaleout.executors import build_executor
from credit_assets.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    settings = Settings.from_env()
    return dg.Definitions.merge(
        dg.load_defs(defs_root=defs_package),
        dg.Definitions(
            resources=build_resources(settings),
            executor=build_executor(settings),
        ),
    )
