"""A short replay through the real definitions: drift is noticed the day it starts,
retraining follows each drift episode, never before it, and after the concept changes a model
retrained on the new concept's days takes over and its realised AUC recovers."""

import datetime as dt
import re

from credit_assets.cli.replay import simulate_days
from credit_assets.cli.simulate import CHEAP_MODEL
from credit_assets.core.synthetic import SyntheticSpec
from tests.conftest import Env

DAYS, FEATURE_DRIFT, CONCEPT_DRIFT, LAG = 18, 4, 9, 1
# How far below the pre-drift realised AUC the retrained champion may stay: it learns from a
# few days of the new concept (800 rows a day) where the first champion had the history too.
RECOVERY_MARGIN = 0.08


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


def test_retraining_follows_each_drift_episode_and_recovers_the_auc(tmp_path, monkeypatch):
    rows = _replay(tmp_path, monkeypatch, DAYS, FEATURE_DRIFT, CONCEPT_DRIFT)
    start = dt.date.fromisoformat(rows[0].day)
    requested = [(i + 1, r) for i, r in enumerate(rows) if r.retraining]
    # nothing drifts and nothing is retrained before the features move; that very day
    # retraining is requested, once for the whole shift, on every day
    assert all(not r.data_drifted for r in rows[: FEATURE_DRIFT - 1])
    assert requested and requested[0][0] == FEATURE_DRIFT
    assert [d for _, r in requested for d in _since(r.retraining, "data", start)] == [FEATURE_DRIFT]
    assert requested[0][1].window == "all days"
    # the concept change: every day's outcomes show it, and the realised AUC falls below what
    # the model showed before it
    changed = rows[CONCEPT_DRIFT - 1 + LAG :]
    before = [r.realised_auc for r in rows[: CONCEPT_DRIFT - 1 + LAG] if r.realised_auc]
    # (a feature shift degrades the champion's calibration and automatic decisions too: a
    # concept-drift retraining may follow it, learning from the shifted days alone)
    assert all(
        r.window >= _day(start, FEATURE_DRIFT) for _, r in requested if "concept" in r.retraining
    )
    # retraining for the new concept learns from its days alone: from the first day whose
    # applications the champion ranked clearly worse; one trained on them passes the gates
    # against the champion on the same recent holdout and takes over
    after = [(d, r) for d, r in requested if d >= CONCEPT_DRIFT + LAG and "concept" in r.retraining]
    assert after and all(r.window == _day(start, CONCEPT_DRIFT) for _, r in after), after
    promoted = [d for d, r in after if r.promoted]
    assert promoted, [(d, r.retraining, r.window, r.promoted) for d, r in requested]
    took_over = promoted[0]
    assert all(r.concept_drifted for r in changed[: took_over - CONCEPT_DRIFT])
    drifted = [r.realised_auc for r in changed[: took_over - CONCEPT_DRIFT] if r.realised_auc]
    assert max(drifted) < min(before)
    # the days it decided, once their outcomes are in: the realised AUC is back above every
    # drifted day's and within RECOVERY_MARGIN of the first champion's before the change
    recovered = [r.realised_auc for r in rows[took_over + LAG :] if r.realised_auc]
    assert len(recovered) >= 2, (took_over, DAYS)
    assert min(recovered) > max(drifted)
    assert sum(recovered) / len(recovered) > sum(before) / len(before) - RECOVERY_MARGIN
    # trained on the shifted population, the new champion sees no data drift any more
    assert all(r.data_drifted for r in rows[FEATURE_DRIFT - 1 : took_over])
    assert not any(r.data_drifted for r in rows[took_over:])
    print(  # the figures, for the record (pytest -s)
        f"\nrequested {[(d, r.retraining, r.window, r.promoted) for d, r in requested]}; "
        f"AUC before {before}; drifted {drifted}; recovered {recovered}"
    )


def _day(start: dt.date, day: int) -> str:
    return (start + dt.timedelta(days=day - 1)).isoformat()
