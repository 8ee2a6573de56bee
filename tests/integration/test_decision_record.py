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


def test_a_reviewers_decision_labels_the_application_for_the_next_training(trained, tmp_path):
    """An application whose outcome has not arrived (the last day's) enters the training
    table with the reviewer's decision as its label; the model's own decision stays."""
    from credit_assets.core.reviews import decide_case, queue
    from credit_assets.core.storage import LocalStore

    env, _ = trained
    with copy_env(env, tmp_path):
        log = Settings.from_env().decision_log()
        last_day = "2026-11-04"  # its outcomes arrive after the data ends
        case = next(e.case for e in queue(log, "santander") if e.case.partition_day == last_day)
        decide_case(
            log, "santander", case.application_id, case.decision_id, "reject", "fraud", "rita"
        )
        result = _cli("run", "--partition", last_day)
        assert result.exit_code == 0, result.output
        table = LocalStore(Settings.from_env().storage_dir / "santander").read_frame(
            "training_data"
        )
        row = table[table["ID_code"] == case.application_id]
        assert row["target"].tolist() == [1]  # a reject: a bad outcome (positive class)
        history = log.history("santander", case.application_id)
        assert [d.source for d in history][:2] == ["batch", "review"]
        assert history[0].decision == "review"  # the model's decision is kept as it was
