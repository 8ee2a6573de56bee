"""Monitoring on a trained environment: drift and fairness assets, and the sensors as the
daemon evaluates them (from their cursors, on the instance)."""

import json
import os

import dagster as dg
import numpy as np
import pandas as pd

from credit_assets.cli.replay import Replay
from credit_assets.defs.monitoring import EVIDENCE_TAG, REASON_TAG
from tests.conftest import copy_env
from tests.unit.test_alerts import webhook  # noqa: F401  (fixture)

ALERT_WEBHOOK_ENV = "CREDIT_ALERT_WEBHOOK"


def _materialized(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.path[-1] == asset:
            return {k: v.value for k, v in materialization.metadata.items()}
    raise AssertionError(f"{asset} was not materialized")


def _drifted_day(data, day: str, source_day: str, shift: float = 3.0) -> None:
    """A new day of applications: an earlier day's, new ids, ten features moved."""
    apps = pd.read_csv(data / "applications" / f"{source_day}.csv")
    apps["ID_code"] = [f"drift_{day}_{i}" for i in range(len(apps))]
    for j in range(10):
        apps[f"var_{j}"] += shift * apps[f"var_{j}"].std()
    apps.to_csv(data / "applications" / f"{day}.csv", index=False)


def test_drift_fairness_and_sensors(trained, tmp_path, webhook):  # noqa: F811
    env, _ = trained
    url, posted = webhook
    with copy_env(env, tmp_path) as private, dg.DagsterInstance.get() as instance:
        os.environ[ALERT_WEBHOOK_ENV] = url
        try:
            replay = Replay(instance, "santander", {})
            built = replay.run("__ASSET_JOB", ["drift_reference"])
            assert _materialized(built, "drift_reference")["kept"] is False
            # the champion's training period does not change: its reference is kept
            again = replay.run("__ASSET_JOB", ["drift_reference"])
            assert _materialized(again, "drift_reference")["kept"] is True
            days = sorted(p.stem for p in (private.data / "applications").glob("*.csv"))

            # the generated days are drawn like the history: no drift, fairness measured
            for day in days:
                run = replay.run("monitoring_job", ["data_drift", "fairness"], day)
                drift = _materialized(run, "data_drift")
                assert drift["drifted"] is False, drift["summary"]
                assert "| feature" in drift["top_features"]
                assert drift["plot"].startswith("![drift](data:image/png;base64,")
                assert "| where" in _materialized(run, "fairness")["table"]

            # every outcome file is requested once, with the concept drift it feeds
            requests = replay.tick("outcome_sensor")
            outcome_days = sorted(p.stem for p in (private.data / "outcomes").glob("*.csv"))
            assert [r.partition_key for r in requests] == outcome_days
            assert replay.tick("outcome_sensor") == []
            for request in requests:
                run = replay.run(
                    "monitoring_job",
                    [k.path[-1] for k in request.asset_selection],
                    request.partition_key,
                )
                concept = _materialized(run, "concept_drift")
                assert concept["drifted"] is False, concept["summary"]
                assert 0.6 < concept["realised_auc"] <= 1
            assert replay.tick("drift_sensor") == []

            # two drifted days: one episode, one retraining requested with its evidence
            last = dt_next(days[-1])
            for day in (last, dt_next(last)):
                _drifted_day(private.data, day, days[-1])
                replay.run(
                    "daily_decisions_job",
                    ["raw_applications", "rule_filtered_applications", "decisions"],
                    day,
                )
                replay.run("monitoring_job", ["data_drift"], day)
                requests = replay.tick("drift_sensor")
                if day == last:
                    (request,) = requests
                    assert request.tags[REASON_TAG] == f"data drift since {last}"
                    assert "var_" in request.tags[EVIDENCE_TAG]
                else:
                    assert requests == []

            # a failed run leaves an alert in the log and at the webhook
            failed = replay.definitions.resolve_job_def("santander__daily_decisions_job")
            result = failed.execute_in_process(
                instance=instance,
                partition_key=dt_next(dt_next(last)),  # no file for this day
                asset_selection=[dg.AssetKey(["santander", "raw_applications"])],
                raise_on_error=False,
            )
            context = dg.build_run_status_sensor_context(
                sensor_name="santander__run_failure_alert",
                dagster_instance=instance,
                dagster_run=result.dagster_run,
                dagster_event=result.get_run_failure_event(),
            ).for_run_failure()
            replay.definitions.resolve_sensor_def("santander__run_failure_alert")(context)
        finally:
            os.environ.pop(ALERT_WEBHOOK_ENV, None)
        lines = (private.home / "alerts.log").read_text().splitlines()
        assert f"santander: data drift since {last}: retraining requested" in lines[0]
        assert "santander__daily_decisions_job failed at santander__raw_applications" in lines[1]
        assert "no applications file" in lines[1]
        assert [p["text"] for p in posted] == lines
        report = json.loads(
            (private.home / "storage" / "santander" / "data_drift")
            .joinpath(f"{last}.json")
            .read_text()
        )
        assert report["drifted"] and set(report["drifted_features"]) >= {
            f"var_{j}" for j in range(10)
        }
        assert np.isfinite(report["drifted_share"])


def dt_next(day: str) -> str:
    import datetime as dt

    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
