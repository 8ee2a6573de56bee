"""Decisions are never overwritten: re-deciding a day appends to the decision log, and what
an applicant was told before stays readable by application id."""

import pandas as pd
from typer.testing import CliRunner

from credit_assets.settings import Settings
from tests.conftest import copy_env

DAY = "2026-11-02"


def _cli(*args: str):
    from credit_assets.cli import app, decisions

    decisions.console.width = 250  # one table row per decision
    return CliRunner().invoke(app, list(args))


def test_re_deciding_a_day_keeps_every_earlier_decision(trained, tmp_path):
    env, _ = trained
    with copy_env(env, tmp_path) as copied:
        log = Settings.from_env().decision_log()
        applicant = pd.read_csv(copied.data / "applications" / f"{DAY}.csv")["ID_code"][0]
        before = log.history("santander", applicant)
        assert [d.source for d in before] == ["batch"]  # decided once, by the first run

        result = _cli("run", "--no-train", "--partition", DAY)
        assert result.exit_code == 0, result.output

        after = log.history("santander", applicant)
        assert len(after) == 2
        assert after[0] == before[0]  # what the applicant was told first is kept as it was
        assert after[1].decided_at > after[0].decided_at
        assert after[1].partition_day == DAY and after[1].actor.startswith("dagster run ")

        result = _cli("decisions", "show", "--dataset", "santander", "--id", applicant)
        assert result.exit_code == 0, result.output
        for decision in after:
            assert decision.decision_id in result.output
        result = _cli("decisions", "show", "--dataset", "santander", "--id", "no-such-id")
        assert result.exit_code == 1
        assert "no decision for 'no-such-id' in dataset 'santander'" in result.output
