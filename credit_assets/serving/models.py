"""Each dataset's champion, loaded from the registry and swapped when a new one is promoted.

A background thread asks the registry every few seconds which version the ``champion`` alias
points at. A new version is loaded beside the serving one and then swapped in with one
assignment: a request takes the current model once, at its start, so a request in flight
finishes on the model it started with and none fails during a swap.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from pydantic import BaseModel

from credit_assets.core.contract import DatasetContract
from credit_assets.core.onerow import OneRow, numeric_columns
from credit_assets.core.pipeline import DecisionPipeline
from credit_assets.core.registry import ModelRegistry
from credit_assets.core.registry_names import CHAMPION
from credit_assets.serving.schemas import application_model, batch_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    """One loaded champion with the request schemas of its features."""

    version: str
    pipeline: DecisionPipeline
    application: type[BaseModel]
    batch: type[BaseModel]
    columns: list[str]  # the application's columns, in the order the pipeline gets them
    numeric: frozenset[str]
    one_row: OneRow | None  # one application without pandas; None: not a compiled champion


def serve(dataset: str, pipeline: DecisionPipeline, version: str, max_batch: int) -> Served:
    contract: DatasetContract = pipeline.contract
    application = application_model(contract, pipeline.feature_columns, dataset)
    columns = [f.alias or name for name, f in application.model_fields.items()]
    numeric = numeric_columns(contract, columns)
    return Served(
        version,
        pipeline,
        application,
        batch_model(application, max_batch, dataset),
        columns,
        numeric,
        OneRow.of(pipeline, columns),
    )


class ChampionHolder:
    """The champion of one dataset; ``current`` is None until one could be loaded."""

    def __init__(self, dataset: str, registry: ModelRegistry, max_batch: int) -> None:
        self.dataset = dataset
        self.registry = registry
        self.max_batch = max_batch
        self.current: Served | None = None
        self.problem: str | None = "not loaded yet"

    def refresh(self) -> None:
        """Load the alias's version if it is not the one served; keep serving on failure."""
        try:
            found = self.registry.resolve(CHAMPION)
            if self.current is not None and self.current.version == found.version:
                return
            pipeline, version = self.registry.load(found.version)
            self.current = serve(self.dataset, pipeline, version.version, self.max_batch)
            self.problem = None
            log.info("%s: serving champion version %s", self.dataset, version.version)
        except Exception as exc:  # the registry may be down: keep the model served so far
            self.problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("%s: champion not refreshed: %s", self.dataset, self.problem)


class ChampionWatcher:
    """Refreshes every holder every ``interval`` seconds on a daemon thread."""

    def __init__(self, holders: list[ChampionHolder], interval: float) -> None:
        self.holders = holders
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh_all(self) -> None:
        for holder in self.holders:
            holder.refresh()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="champion-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh_all()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
