"""The promotion decision on its own: which model decides after a training run, and why."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from credit_assets.core.contract import load_contract
from credit_assets.core.gates import GateConfig
from credit_assets.core.promotion import decide_promotion
from credit_assets.core.thresholds import choose_thresholds


@dataclass
class _Scored:
    """A model as the decision sees it: risk scores for rows, and its review band."""

    noise: float
    columns: tuple[str, ...] = ("x",)
    contract = load_contract()

    def __post_init__(self) -> None:
        rows = _holdout().assign(gone=0.0)  # trained when its columns existed
        self.thresholds = choose_thresholds(self.risk(rows), _bad(rows), 0.85)

    def risk(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.columns if c not in frame]
        if missing:
            raise KeyError(f"columns not found: {missing}")
        rng = np.random.default_rng(1)
        return np.clip(frame["truth"].to_numpy() + rng.normal(0, self.noise, len(frame)), 0, 1)


def _holdout() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    truth = rng.beta(1, 6, 4000)
    return pd.DataFrame(
        {"x": rng.normal(size=4000), "truth": truth, "bad": rng.random(4000) < truth}
    )


def _bad(frame: pd.DataFrame) -> np.ndarray:
    return frame["bad"].to_numpy()


def _decide(challenger, champion, previous="1", version="2"):
    rows = _holdout()
    return decide_promotion(challenger, version, champion, previous, rows, _bad(rows), GateConfig())


def test_the_first_model_is_promoted_when_it_passes_the_absolute_gates():
    decision = _decide(_Scored(0.02), None, previous=None, version="1")
    assert decision.promote and decision.champion is None
    assert decision.reason.startswith("passed every promotion gate (first model): holdout AUC")


def test_a_worse_challenger_is_refused_naming_the_gate():
    decision = _decide(_Scored(0.30), _Scored(0.01))
    assert not decision.promote and not decision.passed
    assert decision.reason == "; ".join(decision.failed)
    assert any(f.startswith("gate auc_vs_champion failed") for f in decision.failed)


def test_a_better_challenger_replaces_the_champion():
    decision = _decide(_Scored(0.01), _Scored(0.30))
    assert decision.promote
    assert "against champion v1" in decision.reason
    record = decision.record("2", "/r.html", "alice")
    assert record["promoted"] and record["previous_champion"] == "1" and record["by"] == "alice"


def test_a_champion_that_cannot_score_the_holdout_blocks_promotion():
    decision = _decide(_Scored(0.01), _Scored(0.01, columns=("gone",)))
    assert not decision.promote
    assert "champion v1 cannot score the current holdout" in decision.reason


def test_the_champion_itself_is_not_promoted_again():
    same = _Scored(0.01)
    decision = _decide(same, same, previous="2", version="2")
    assert decision.already and not decision.promote
    assert decision.reason == "version 2 is already the champion"
