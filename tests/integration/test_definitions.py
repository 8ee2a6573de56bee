"""The code location loads and has the asset graph the platform promises."""

import dagster as dg

from credit_assets.definitions import defs


def test_asset_graph_shape():
    graph = defs().resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {
        "raw_history",
        "raw_applications",
        "raw_outcomes",
        "rule_filtered_applications",
        "training_data",
        "features",
        "model",
        "decision_thresholds",
        "registered_model",
        "decisions",
    }

    def parents(name):
        return {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}

    assert parents("rule_filtered_applications") == {"raw_applications"}
    assert parents("training_data") == {"raw_history", "raw_applications", "raw_outcomes"}
    assert parents("features") == {"training_data"}
    assert parents("model") == {"features"}
    assert parents("decisions") == {"rule_filtered_applications", "registered_model"}
    daily = {"raw_applications", "raw_outcomes", "rule_filtered_applications", "decisions"}
    for key in keys:
        partitioned = graph.get(dg.AssetKey(key)).partitions_def is not None
        assert partitioned == (key in daily), key


def test_jobs_schedules_and_resources():
    definitions = defs()
    jobs = {j.name for j in definitions.resolve_all_job_defs()}
    assert {"daily_decisions_job", "training_job"} <= jobs
    schedules = {s.name for s in definitions.schedules}
    assert {"daily_decisions_job_schedule", "weekly_retraining"} <= schedules
    assert set(definitions.resources) == {"dataset", "storage", "mlflow"}


def test_scaleout_profile_runs_on_celery_with_a_training_queue(monkeypatch):
    from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG

    monkeypatch.setenv("CREDIT_PROFILE", "scaleout")
    definitions = defs()
    for name in ("daily_decisions_job", "training_job"):
        assert definitions.resolve_job_def(name).executor_def.name == "celery"
    graph = definitions.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        queue = node.assets_def.op.tags.get(DAGSTER_CELERY_QUEUE_TAG)
        # every training step, and only those, waits for the training workers
        assert (queue == "training") == (node.group_name == "training"), key
