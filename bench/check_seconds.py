"""How long each quality check took, from the event log.

Checks run inside the step that writes their asset, so step durations include them; every
check result carries its own ``seconds`` in its metadata.
"""

from collections import defaultdict


def check_seconds(instance, run_ids: list[str]) -> dict[tuple[str, str, str | None], float]:
    """Seconds per (asset, check name, partition), summed over the given runs."""
    import dagster as dg

    seconds: dict[tuple[str, str, str | None], float] = defaultdict(float)
    for run_id in run_ids:
        # a check of a partitioned asset, run in its asset's step, has the run's partition
        run_partition = instance.get_run_by_id(run_id).tags.get("dagster/partition")
        records = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        for record in records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            took = evaluation.metadata.get("seconds")
            if took is not None:
                key = (evaluation.asset_key.to_user_string(), evaluation.check_name)
                seconds[(*key, evaluation.partition or run_partition)] += float(took.value)
    return seconds
