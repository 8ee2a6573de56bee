"""A short replay through the real definitions: drift is noticed the day it starts, and
retraining follows each drift episode, never before it."""

import datetime as dt
import re

from credit_assets.cli.replay import simulate_days
from credit_assets.cli.simulate import CHEAP_MODEL
from credit_assets.core.synthetic import SyntheticSpec
from tests.conftest import Env

DAYS, FEATURE_DRIFT, CONCEPT_DRIFT, LAG = 13, 4, 9, 1


def _replay(tmp_path, monkeypatch, days: int, feature_from: int, concept_from: int):
    start = dt.date.today() - dt.timedelta(days=days - 1)
    spec = SyntheticSpec(
        n_features=90,
        history_rows=4_000,
        days=days,
        rows_per_day=800,
        start=start,
        seed=0,
        outcome_lag_days=LAG,
        signal=0.1,
        drift_share=0.25,
        feature_drift_from=start + dt.timedelta(days=feature_from - 1),
        concept_drift_from=start + dt.timedelta(days=concept_from - 1),
    )
    # the replay points the platform's variables at its home: put them back afterwards
    monkeypatch.setenv("CREDIT_PARTITIONS_START", start.isoformat())
    with Env(tmp_path / "home", tmp_path / "unused"):
        return simulate_days(tmp_path / "home", spec, CHEAP_MODEL)


def _since(reason: str, kind: str, start: dt.date) -> list[int]:
    """The first days (1 = first) of the ``kind`` drift episodes a retraining reason names."""
    return [
        (dt.date.fromisoformat(day) - start).days + 1
        for day in re.findall(rf"{kind} drift since ([0-9-]+)", reason or "")
    ]


def test_retraining_follows_each_drift_episode_never_before(tmp_path, monkeypatch):
    rows = _replay(tmp_path, monkeypatch, DAYS, FEATURE_DRIFT, CONCEPT_DRIFT)
    start = dt.date.fromisoformat(rows[0].day)
    requested = [(i + 1, r) for i, r in enumerate(rows) if r.retraining]
    # nothing drifts and nothing is retrained before the features move; from then on every
    # day's applications drift, and retraining is requested that very day, once
    assert all(not r.data_drifted for r in rows[: FEATURE_DRIFT - 1])
    assert all(r.data_drifted for r in rows[FEATURE_DRIFT - 1 :])
    assert requested and requested[0][0] == FEATURE_DRIFT
    assert [d for _, r in requested for d in _since(r.retraining, "data", start)] == [FEATURE_DRIFT]
    # the concept change: every day's outcomes show it, the realised AUC falls below what the
    # model showed before it, and retraining is requested again for concept drift
    changed = rows[CONCEPT_DRIFT - 1 + LAG :]
    assert all(r.concept_drifted for r in changed)
    before = [r.realised_auc for r in rows[: CONCEPT_DRIFT - 1 + LAG] if r.realised_auc]
    assert max(r.realised_auc for r in changed) < min(before)
    assert any(
        day >= CONCEPT_DRIFT + LAG and "concept drift" in r.retraining for day, r in requested
    )
