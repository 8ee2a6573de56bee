"""The code location loads and has the asset graph the platform promises."""

import dagster as dg

from credit_assets.definitions import defs


def test_asset_graph_shape():
    graph = defs().resolve_asset_graph()
    keys = {k.to_user_string().removeprefix("santander/") for k in graph.get_all_asset_keys()}
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
        "champion_model",
        "decisions",
    }

    def parents(name):
        parents = graph.get(dg.AssetKey(["santander", name])).parent_keys
        return {k.path[-1] for k in parents}

    assert parents("rule_filtered_applications") == {"raw_applications"}
    assert parents("training_data") == {"raw_history", "raw_applications", "raw_outcomes"}
    assert parents("features") == {"training_data"}
    assert parents("model") == {"features"}
    assert parents("registered_model") == {"decision_thresholds", "training_data"}
    assert parents("champion_model") == {"registered_model"}
    assert parents("decisions") == {"rule_filtered_applications", "champion_model"}
    checks = {(k.asset_key.path[-1], k.name) for k in graph.asset_check_keys}
    assert ("champion_model", "promotion_gates") in checks
    daily = {"raw_applications", "raw_outcomes", "rule_filtered_applications", "decisions"}
    for key in keys:
        partitioned = graph.get(dg.AssetKey(["santander", key])).partitions_def is not None
        assert partitioned == (key in daily), key


def test_jobs_schedules_and_resources():
    definitions = defs()
    jobs = {j.name for j in definitions.resolve_all_job_defs()}
    assert {"santander__daily_decisions_job", "santander__training_job"} <= jobs
    schedules = {s.name for s in definitions.schedules}
    assert {"santander__daily_decisions", "santander__weekly_retraining"} <= schedules
    assert set(definitions.resources) == {"datasets", "storage", "mlflow", "decision_log"}


def test_quality_checks_and_which_block():
    graph = defs().resolve_asset_graph()
    checks = {
        (k.asset_key.path[-1], k.name): graph.get_check_spec(k).blocking
        for k in graph.asset_check_keys
    }
    assert checks == {
        ("raw_history", "expectations"): True,
        ("raw_history", "history_ids_not_in_applications"): True,
        ("raw_applications", "expectations"): True,
        ("raw_applications", "ids_not_in_other_files"): True,
        ("raw_applications", "no_target_or_post_outcome_columns"): True,
        ("raw_applications", "row_count_near_recent_average"): False,
        ("raw_outcomes", "expectations"): True,
        ("raw_outcomes", "outcome_ids_known"): False,
        ("training_data", "expectations"): True,
        ("training_data", "splits_share_no_id"): True,
        ("features", "expectations"): True,
        ("features", "no_leakage_in_features"): True,
        ("decisions", "expectations"): True,
        ("champion_model", "promotion_gates"): False,
    }


def test_scaleout_profile_runs_on_celery_with_a_training_queue(monkeypatch):
    from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG

    monkeypatch.setenv("CREDIT_PROFILE", "scaleout")
    definitions = defs()
    for name in ("santander__daily_decisions_job", "santander__training_job"):
        assert definitions.resolve_job_def(name).executor_def.name == "celery"
    graph = definitions.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        queue = node.assets_def.op.tags.get(DAGSTER_CELERY_QUEUE_TAG)
        # every training step, and only those, waits for the training workers
        assert (queue == "training") == (node.group_name == "santander_training"), key


def test_loading_the_code_location_imports_no_modelling_library():
    """Every run's orchestrator and every step process loads the code location: it must not
    pay for MLflow, LightGBM, scikit-learn, matplotlib or GX (seconds each) before a step
    needs them."""
    import subprocess
    import sys

    heavy = ["mlflow", "lightgbm", "sklearn", "matplotlib", "great_expectations", "scipy"]
    probe = (
        "import sys; from credit_assets.definitions import defs; "
        "defs().resolve_job_def('santander__training_job'); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"
