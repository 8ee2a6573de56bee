"""The scale-out profile's code server: Dagster's own gRPC server (``dagster api grpc``),
except that each run's orchestrator is forked from a process that has Dagster, the Celery
executor and the code location already imported, instead of being spawned and importing
them afresh for every run.

Dagster's server creates run processes with a hard-coded ``spawn`` context
(``DagsterApiServer._mp_ctx``); a run's process then spends most of its CPU importing what
the code server already holds (bench/scaling.py counts it as orchestrator CPU). This module
gives that server a ``forkserver`` context that preloads the code location, then hands over
to Dagster's command line unchanged, so it takes the same arguments:

    python -m credit_assets.scaleout.code_server -m credit_assets.definitions -h 0.0.0.0 -p 4000

The forkserver is a single-threaded process started from a clean interpreter, so forking it
is safe although the gRPC server itself runs threads. The patch touches one module attribute
of the pinned Dagster (``dagster._grpc.server.multiprocessing``), like the result polling
interval in ``executors.py``; the service tests run every run of the scale-out profile through
it.
"""

import multiprocessing
import sys
import types

# What a run's orchestrator imports: Dagster's run machinery, the Celery executor and the code
# location. Nothing a step imports (see preload.py): the orchestrator never runs a step.
PRELOAD = [
    "dagster._core.execution.api",
    "dagster._grpc.impl",
    "dagster_postgres",  # the instance's storage
    "dagster_celery.core_execution_loop",
    "dagster_celery.executor",
    "dagster_celery.make_app",
    "credit_assets.definitions",
]


def forking_multiprocessing() -> types.SimpleNamespace:
    """A stand-in for the ``multiprocessing`` module of Dagster's gRPC server whose
    ``get_context`` gives a forkserver context preloading ``PRELOAD``."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return types.SimpleNamespace(
        get_context=lambda method=None: context, Process=multiprocessing.Process
    )


def main() -> None:
    import dagster._grpc.server as server
    from dagster._cli import main as dagster_main

    server.multiprocessing = forking_multiprocessing()
    sys.argv = ["dagster", "api", "grpc", *sys.argv[1:]]
    dagster_main()


if __name__ == "__main__":
    main()
