"""Daily steps over several days: a run may cover a range of daily partitions (the daily
assets' backfill policy, ``Scope.backfill_policy``), and its steps then do their work day by
day, each day's file written whole and checked on its own.

What a bad day does to the others of its run: every other day is still written and checked,
and only the bad day's file is marked rejected (a blocking check failed) or left unwritten
(the file could not be read). The step then fails, naming each bad day, so nothing
downstream runs in that run; once the file is fixed, a re-execution from failure runs the
failed step and what follows it, and rewriting the good days is harmless (same input, files
written whole).

Dagster records one evaluation per check per step, not per partition: for a range, each
check's result is the worst of its days, and its description names the days that failed.
"""

from collections.abc import Callable

import dagster as dg

from credit_assets.core.errors import CreditAssetsError

# What one day's work returns: the day's materialization metadata and its check results.
DayWork = Callable[[str], tuple[dict, list[dg.AssetCheckResult]]]


def each_day(context: dg.AssetExecutionContext, work: DayWork) -> dg.MaterializeResult:
    """Run ``work`` for every day of the step's partition (one key, or a range), attach each
    day's metadata to that day's materialization, and report the checks of all days."""
    days = context.partition_keys
    checks: dict[str, list[dg.AssetCheckResult]] = {}
    errors: dict[str, CreditAssetsError] = {}
    for day in days:
        try:
            metadata, results = work(day)
        except CreditAssetsError as exc:  # a data problem: the other days still go through
            errors[day] = exc
            continue
        context.add_asset_metadata(metadata, partition_key=day)
        checks[day] = results
    if errors:
        if len(days) == 1:
            raise next(iter(errors.values()))
        raise CreditAssetsError(
            f"{len(errors)} of {len(days)} days failed ({len(checks)} others written and "
            "checked): " + "; ".join(f"{day}: {exc}" for day, exc in errors.items())
        )
    return dg.MaterializeResult(check_results=worst_of_days(checks))


def worst_of_days(
    checks: dict[str, list[dg.AssetCheckResult]],
) -> list[dg.AssetCheckResult]:
    """One result per check for several days: passed only if it passed every day; else the
    most severe failure, described day by day."""
    if len(checks) == 1:
        return next(iter(checks.values()))
    by_name: dict[str, dict[str, dg.AssetCheckResult]] = {}
    for day, results in checks.items():
        for result in results:
            by_name.setdefault(str(result.check_name), {})[day] = result
    return [_worst(name, results) for name, results in by_name.items()]


def _worst(name: str, results: dict[str, dg.AssetCheckResult]) -> dg.AssetCheckResult:
    days = dg.MetadataValue.json(
        {day: {"passed": r.passed, "description": r.description} for day, r in results.items()}
    )
    failed = {day: r for day, r in results.items() if not r.passed}
    first, last = min(results), max(results)
    if not failed:
        return dg.AssetCheckResult(
            passed=True,
            check_name=name,
            description=f"passed on each of {len(results)} days, {first} to {last}",
            metadata={"days": days},
        )
    errors = [r for r in failed.values() if r.severity == dg.AssetCheckSeverity.ERROR]
    return dg.AssetCheckResult(
        passed=False,
        check_name=name,
        severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
        description=f"failed on {len(failed)} of {len(results)} days: "
        + "; ".join(f"{day}: {r.description}" for day, r in failed.items()),
        metadata={"days": days, "failed_days": sorted(failed)},
    )
