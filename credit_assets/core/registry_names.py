"""Names the model registry uses (aliases, tags), importable without MLflow: the code
location and the CLI need them before, or without, loading a model."""

CHAMPION = "champion"  # the version that decides
CHALLENGER = "challenger"  # the newest version, waiting for the promotion gates
# Run tags that say where a model version came from (shown by `model show` and the report).
LINEAGE_TAGS = (
    "contract_version",
    "rules_version",
    "code_version",
    "data_fingerprint",
    "training_table_fingerprint",
    "training_partitions",
    "feature_state_version",
    "thresholds_version",
    "dagster_run_id",
)
GATES_TAG = "gates"  # version tag: every gate's result (JSON)
GATES_PASSED_TAG = "gates_passed"  # version tag: "true" | "false"
FAIRNESS_TAG = "fairness"  # version tag: the fairness gates in one line (gates.fairness_summary)

# The run tag naming who launched a run; the web app's Dagster gate sets it to the
# authenticated user on every launch, over whatever the launcher sent.
LAUNCHED_BY_TAG = "credit/launched_by"
