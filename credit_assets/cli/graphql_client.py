"""Trigger runs from outside through the Dagster webserver's GraphQL API.

``DagsterGraphQLClient`` (from dagster-graphql) launches a job and reads a run's status; the
two things it lacks, partition backfills and re-execution from failure, are plain GraphQL
mutations posted to the same endpoint.

    client = CreditClient("dagster.internal", 3000)
    run_id = client.score("2026-11-03")
    status = client.wait(run_id)          # DagsterRunStatus.SUCCESS / FAILURE / CANCELED

The endpoint has no authentication of its own: ``credit-assets web`` serves it behind the
platform's login at ``/dagster``; systems send an access token (``token=``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from credit_assets.core.errors import CreditAssetsError
from credit_assets.defs.scope import DAILY_JOB, TRAINING_JOB, job_name

LOCATION = "credit_assets"
REPOSITORY = "__repository__"  # the repository name Dagster gives a Definitions object
PARTITION_TAG = "dagster/partition"
BACKFILL_TAG = "dagster/backfill"
FINISHED = frozenset(
    {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
)

_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""

_REEXECUTE = """
mutation($params: ReexecutionParams!) {
  launchRunReexecution(reexecutionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""

_RUNS = """
query($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId status tags { key value } } }
    ... on Error { message }
  }
}
"""


def _explain(exc: DagsterGraphQLClientError, url: str) -> str:
    """One line instead of the client's message, which repeats the whole query."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, requests.ConnectionError | ConnectionError):
            return f"cannot reach the Dagster webserver at {url}"
        errors = getattr(cause, "errors", None)  # gql's TransportQueryError: the reply's errors
        if errors and isinstance(errors[0], dict) and errors[0].get("message"):
            # e.g. the login in front of Dagster: "role reviewer may run GraphQL queries only"
            return str(errors[0]["message"]).splitlines()[0]
        cause = cause.__cause__ or cause.__context__
    return " ".join(str(a) for a in exc.args[:2]).strip().splitlines()[0]


class CreditClient:
    """Launch one dataset's scoring and training runs, backfills and re-executions; wait for
    their end."""

    def __init__(
        self,
        dataset: str,
        host: str = "localhost",
        port: int = 3000,
        timeout: int = 60,
        *,
        path: str = "",
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """``path``: where Dagster is mounted (``/dagster`` behind ``credit-assets web``);
        ``token``: an access token (``credit-assets users token``) sent as a bearer token."""
        self.dataset = dataset
        self.scoring_job = job_name(dataset, DAILY_JOB)
        self.training_job = job_name(dataset, TRAINING_JOB)
        self.url = f"http://{host}:{port}{path}/graphql"
        self.timeout = timeout
        self.headers = dict(headers or {})
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.dagster = DagsterGraphQLClient(
            f"{host}:{port}{path}", timeout=timeout, headers=self.headers
        )

    def _post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = requests.post(
                self.url,
                json={"query": query, "variables": variables},
                headers=self.headers,
                timeout=self.timeout,
            )
            reply.raise_for_status()
        except requests.ConnectionError as exc:
            raise CreditAssetsError(f"cannot reach the Dagster webserver at {self.url}") from exc
        except requests.RequestException as exc:
            raise CreditAssetsError(f"Dagster webserver at {self.url}: {exc}") from exc
        body = reply.json()
        if body.get("errors"):
            raise CreditAssetsError(f"GraphQL error: {body['errors'][0]['message']}")
        return body["data"]

    @staticmethod
    def _result(data: dict[str, Any], field: str, success: str) -> dict[str, Any]:
        result = data[field]
        if result["__typename"] != success:
            raise CreditAssetsError(f"{result['__typename']}: {result.get('message', '')}")
        return result

    def score(self, partition: str, tags: dict[str, str] | None = None) -> str:
        """Launch the daily scoring job (ingest, rules, decisions) for one day; its run id."""
        return self.launch(self.scoring_job, {PARTITION_TAG: partition, **(tags or {})})

    def launch(self, job: str, tags: dict[str, str] | None = None, run_config: Any = None) -> str:
        try:
            return self.dagster.submit_job_execution(
                job,
                repository_location_name=LOCATION,
                repository_name=REPOSITORY,
                run_config=run_config or {},
                tags=tags,
            )
        except DagsterGraphQLClientError as exc:
            raise CreditAssetsError(f"could not launch {job}: {_explain(exc, self.url)}") from exc

    def backfill(self, partitions: Sequence[str], job: str | None = None) -> str:
        """Runs of ``job`` (the scoring job) over the partitions, created by the daemon: a
        run takes up to ``DAYS_PER_RUN`` consecutive days (the daily assets' backfill policy,
        ``defs/scope.py``). The backfill id."""
        job = job or self.scoring_job
        params = {
            "selector": {
                "partitionSetName": f"{job}_partition_set",
                "repositorySelector": {
                    "repositoryLocationName": LOCATION,
                    "repositoryName": REPOSITORY,
                },
            },
            "partitionNames": list(partitions),
        }
        data = self._post(_BACKFILL, {"params": params})
        return self._result(data, "launchPartitionBackfill", "LaunchBackfillSuccess")["backfillId"]

    def reexecute_from_failure(self, run_id: str) -> str:
        """A new run of the failed and skipped steps of ``run_id``; its run id."""
        params = {"parentRunId": run_id, "strategy": "FROM_FAILURE"}
        data = self._post(_REEXECUTE, {"params": params})
        return self._result(data, "launchRunReexecution", "LaunchRunSuccess")["run"]["runId"]

    def status(self, run_id: str) -> DagsterRunStatus:
        try:
            return self.dagster.get_run_status(run_id)
        except DagsterGraphQLClientError as exc:
            raise CreditAssetsError(f"run {run_id}: {_explain(exc, self.url)}") from exc

    def runs(self, tags: dict[str, str]) -> dict[str, DagsterRunStatus]:
        """Run id -> status of the runs carrying all ``tags`` (e.g. a backfill's runs)."""
        run_filter = {"tags": [{"key": k, "value": v} for k, v in tags.items()]}
        data = self._post(_RUNS, {"filter": run_filter})
        result = self._result(data, "runsOrError", "Runs")
        return {r["runId"]: DagsterRunStatus(r["status"]) for r in result["results"]}

    def wait(self, run_id: str, timeout: float = 3600, poll: float = 2.0) -> DagsterRunStatus:
        """Poll until the run has ended; raise if it has not after ``timeout`` seconds."""
        return _poll(lambda: {run_id: self.status(run_id)}, 1, timeout, poll)[run_id]

    def wait_backfill(
        self, backfill_id: str, expected_runs: int, timeout: float = 3600, poll: float = 2.0
    ) -> dict[str, DagsterRunStatus]:
        """Poll until ``expected_runs`` runs of the backfill exist and all have ended."""
        return self.wait_runs({BACKFILL_TAG: backfill_id}, expected_runs, timeout, poll)

    def wait_runs(
        self, tags: dict[str, str], expected_runs: int, timeout: float = 3600, poll: float = 2.0
    ) -> dict[str, DagsterRunStatus]:
        """Poll until ``expected_runs`` runs carrying ``tags`` exist and all have ended."""
        return _poll(lambda: self.runs(tags), expected_runs, timeout, poll)


def _poll(
    read: Callable[[], dict[str, DagsterRunStatus]],
    expected: int,
    timeout: float,
    poll: float,
) -> dict[str, DagsterRunStatus]:
    deadline = time.monotonic() + timeout
    while True:
        statuses = read()
        if len(statuses) >= expected and all(s in FINISHED for s in statuses.values()):
            return statuses
        if time.monotonic() > deadline:
            pending = {k: s.value for k, s in statuses.items() if s not in FINISHED}
            raise CreditAssetsError(
                f"runs still not finished after {timeout:.0f}s: {pending or 'none created yet'}"
            )
        time.sleep(poll)
