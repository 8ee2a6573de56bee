"""Which run wrote a training step's output, so that no step builds on half-finished or
foreign work.

A training step removes its asset's stamp before it writes anything and stamps the asset with
its run's ids once everything is written. The next step then refuses its input when:

- there is no stamp: the writer died (or is still writing) and the files may be a mix;
- the stamp is another training run's that is still running: two trainings of the dataset
  overlap (one started outside the run queue, say), and what this run would register could
  come from the other one.

Output of a run that finished is finished work and may be built on, as when one asset is
re-materialized alone from the UI; a re-execution from failure keeps its parent's root run id,
so it builds on the steps its parent finished.
"""

from __future__ import annotations

from collections.abc import Callable

from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.storage import Store

_STAMP = "written_by"


def begin(store: Store, asset: str) -> None:
    """Before a step writes ``asset``: its files no longer match any stamp."""
    store.delete_json(asset, _STAMP)


def stamp(store: Store, asset: str, root_run_id: str, run_id: str) -> None:
    """After a step wrote everything of ``asset``."""
    store.write_json({"root_run_id": root_run_id, "run_id": run_id}, asset, _STAMP)


def check_stamp(store: Store, asset: str, root_run_id: str, running: Callable[[str], bool]) -> None:
    """Raise unless ``asset`` is finished work this run may build on; ``running(run_id)``
    says whether a run is still in progress."""
    if not store.exists(asset, _STAMP, "json"):
        raise CreditAssetsError(
            f"{asset} was not finished by the run that last wrote it (it died or is still "
            "writing); materialize it again (retrain)"
        )
    written = store.read_json(asset, _STAMP)
    if written["root_run_id"] != root_run_id and running(written["run_id"]):
        raise CreditAssetsError(
            f"{asset} was written by run {written['run_id'][:8]}, another training of this "
            "dataset that is still running; this run stops so that nothing is registered from "
            "a mix of the two"
        )
