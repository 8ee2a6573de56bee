"""A short replay through the real definitions: drift is noticed, retraining follows each
drift episode (never before it), and the promoted model's realised AUC recovers."""

import datetime as dt
import re

from credit_assets.cli.replay import simulate_days
from credit_assets.cli.simulate import CHEAP_MODEL
from credit_assets.core.synthetic import SyntheticSpec
from tests.conftest import Env

DAYS, FEATURE_DRIFT, CONCEPT_DRIFT, LAG = 18, 4, 10, 1


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


def test_retraining_follows_each_drift_episode_and_auc_recovers(tmp_path, monkeypatch):
    rows = _replay(tmp_path, monkeypatch, DAYS, FEATURE_DRIFT, CONCEPT_DRIFT)
    start = dt.date.fromisoformat(rows[0].day)
    requested = [(i + 1, r) for i, r in enumerate(rows) if r.retraining]
    assert requested, "no retraining was requested"
    assert requested[0][0] >= FEATURE_DRIFT, "retraining before any drift"
    assert all(not r.data_drifted for r in rows[: FEATURE_DRIFT - 1])
    assert all(r.data_drifted for r in rows[FEATURE_DRIFT - 1 :])
    # the feature drift is noticed on its first day, and retraining requested for it
    assert _since(requested[0][1].retraining, "data", start) == [FEATURE_DRIFT]
    # the concept change is noticed once its outcomes arrive, and retraining requested again
    concept = [
        (day, r) for day, r in requested if day >= CONCEPT_DRIFT + LAG and "concept" in r.retraining
    ]
    assert concept, [(day, r.retraining) for day, r in requested]
    # the realised AUC falls under the concept change and recovers with a promoted model
    promoted = [day for day, r in concept if r.promoted]
    assert promoted, [(day, r.retraining, r.promoted) for day, r in requested]
    before = [r.realised_auc for r in rows[CONCEPT_DRIFT : promoted[0]] if r.realised_auc]
    after = [r.realised_auc for r in rows[promoted[0] + LAG :] if r.realised_auc]
    assert after and min(after) > min(before) + 0.05, (before, after)
