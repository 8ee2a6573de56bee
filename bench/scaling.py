"""Scaling benchmark: a backfill of N daily scoring partitions on this machine.

Configurations, each on a fresh deployment started like the service tests (PostgreSQL
instance, queued runs, daemon, code server, S3 store, MLflow server; see
tests/services/stack.py):

* ``multiprocess``: the embedded profile's executor (steps in processes of the run);
* ``celery-1`` and ``celery-2``: the scale-out profile with 1 and 2 Celery workers, one step at
  a time each, on a backfill (several days per run: the daily assets' backfill policy);
* ``celery-1-daily`` and ``celery-2-daily``: the same workers, one run per day (as the daily
  schedule launches them), to compare with.

Every process runs its numerical libraries on one thread (OMP_NUM_THREADS=1), so a worker
is one core. Timing: see ``measure``. The event log gives each step's duration, the
workers' overhead per step, the broker hand-over and each run's orchestrator start-up,
which docs/scaling.md uses for its projection.

    python bench/scaling.py --partitions 16 --rows 60000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the service tests' stack is reused here

import dagster as dg  # noqa: E402

from credit_assets.cli.graphql_client import BACKFILL_TAG, CreditClient  # noqa: E402
from credit_assets.defs.scope import DAYS_PER_RUN, backfill_runs  # noqa: E402
from tests.services.stack import Stack, missing_services, wait_until  # noqa: E402

START = dt.date(2026, 11, 1)
ONE_WORKER = {"w1": ["dagster", "training"]}
TWO_WORKERS = {"w1": ["dagster", "training"], "w2": ["dagster"]}
# name: profile, workers, days per run (1: one run per day; else the backfill policy's)
CONFIGS = {
    "multiprocess": ("embedded", {}, DAYS_PER_RUN),
    "celery-1": ("scaleout", ONE_WORKER, DAYS_PER_RUN),
    "celery-2": ("scaleout", TWO_WORKERS, DAYS_PER_RUN),
    "celery-1-daily": ("scaleout", ONE_WORKER, 1),
    "celery-2-daily": ("scaleout", TWO_WORKERS, 1),
}
DEFAULT_CONFIGS = "celery-1,celery-2,celery-2-daily"
BATCH_TAG = "credit-assets/bench-batch"  # the runs of one measurement launched day by day
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def make_data(root: Path, partitions: int, rows: int, features: int, history: int) -> None:
    from credit_assets.core.synthetic import SyntheticSpec, generate

    spec = SyntheticSpec(
        n_features=features,
        history_rows=history,
        days=partitions,
        rows_per_day=rows,
        start=START,
        seed=3,
        outcome_lag_days=1,
    )
    generate(root, spec)


def _events(instance: dg.DagsterInstance, run_id: str) -> list[dg.EventLogEntry]:
    return [e for e in instance.all_logs(run_id) if e.is_dagster_event]


def run_costs(instance: dg.DagsterInstance, run_ids: list[str], partitions: int) -> dict:
    """What a partition costs, from the event log.

    * step seconds: STEP_START to STEP_SUCCESS, the work itself (a step does every day of
      its run, so per partition is the total over the partitions);
    * worker overhead: a worker taking up a step to the step's start (loading the job,
      planning), paid once per step;
    * broker hand-over: submitted by the orchestrator to taken up by a worker (includes any
      wait for a free worker);
    * worker busy seconds: taken up to finished, summed over all steps;
    * orchestrator start-up: run created to run started (includes the wait in the run queue).
    """
    steps: dict[str, list[float]] = {}
    startup, handover, overhead, rows = [], [], [], []
    busy = 0.0
    for run_id in run_ids:
        record = instance.get_run_record_by_id(run_id)
        started: dict[str, float] = {}
        submitted: dict[str, float] = {}
        taken: dict[str, float] = {}
        rows.append(len(instance.all_logs(run_id)))
        for entry in _events(instance, run_id):
            event = entry.get_dagster_event()
            kind, step, at = event.event_type, entry.step_key, entry.timestamp
            if kind == dg.DagsterEventType.RUN_START:
                startup.append(at - record.create_timestamp.timestamp())
            elif kind == dg.DagsterEventType.STEP_START:
                started[step] = at
                if step in taken:
                    overhead.append(at - taken[step])
            elif kind == dg.DagsterEventType.STEP_SUCCESS and step in started:
                steps.setdefault(step, []).append(at - started[step])
                busy += at - taken.get(step, started[step])
            elif kind == dg.DagsterEventType.ENGINE_EVENT and step:
                message = event.message or ""
                if message.startswith("Submitting celery task"):
                    submitted[step] = at
                elif "in celery worker" in message:
                    taken[step] = at
                    if step in submitted:
                        handover.append(at - submitted[step])

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 2) if values else None

    return {
        "step_seconds": {k: median(v) for k, v in sorted(steps.items())},
        "step_seconds_per_partition": round(sum(map(sum, steps.values())) / partitions, 2),
        "worker_overhead_seconds_per_step": median(overhead),
        "broker_handover_seconds": median(handover),
        "worker_busy_seconds": round(busy, 1),
        "orchestrator_startup_seconds": median(startup),
        "event_rows_per_run": statistics.median(rows),
    }


# What a process is, from its command line: the first match names it.
ROLES = (
    # the code server forks each run's process from its forkserver (scaleout/code_server.py),
    # whose command line names the modules it preloads, the Celery executor's among them
    ("orchestrators", "multiprocessing.forkserver"),
    ("worker", "celery"),
    ("orchestrators", "execute_run"),
    ("orchestrators", "spawn_main"),  # Dagster's own code server spawns them
    ("code server", "code_server"),
    ("code server", "api grpc"),
    ("webserver", "dagster-webserver"),
    ("daemon", "dagster-daemon"),
    ("S3 server", "moto_server"),
    ("MLflow server", "mlflow"),
    ("PostgreSQL", "postgres"),
    ("RabbitMQ", "beam.smp"),
    ("Redis", "redis-server"),
)
SHARED_SERVERS = ROLES[-3:]  # the machine's, not the stack's


class CpuSampler:
    """CPU seconds of every process on the machine over a window, by role (workers,
    orchestrators, servers, everything else): where the cores went. A process is known by its
    pid and start time (pids are reused); one that ends inside the window is counted up to its
    last sample, under the last command line it showed (an exited, unreaped process shows
    none). The stack's own processes count under their role only if they belong to this
    deployment (their ``DAGSTER_HOME`` is ``home``); those of other deployments and programs
    on the machine (another benchmark, a test's stack, any ``spawn_main``) are "other". The
    shared servers (PostgreSQL, RabbitMQ, Redis) count whoever uses them."""

    def __init__(self, home: Path, every: float = 0.5) -> None:
        self.home = f"DAGSTER_HOME={home}".encode()
        self.every = every
        self.first: dict[tuple[int, int], tuple[float, bool]] = {}  # CPU then, ours
        self.cmd: dict[tuple[int, int], str] = {}
        self.last: dict[tuple[int, int], float] = {}
        self.others: dict[str, float] = {}
        self._machine_start: dict[str, float] = {}
        self._machine_end: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _read() -> dict[tuple[int, int], tuple[str, float]]:
        ticks = os.sysconf("SC_CLK_TCK")
        out = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()  # fields from the 3rd (state) on
            cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
            out[(int(pid), int(fields[19]))] = (cmd, cpu)  # starttime tells reused pids apart
        return out

    def _ours(self, pid: int) -> bool:
        """The process was started with this deployment's environment."""
        try:
            return self.home in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return False

    def _sample(self, baseline: bool = False) -> None:
        for key, (cmd, cpu) in self._read().items():
            if key not in self.first:  # started inside the window: all its CPU counts
                self.first[key] = (cpu if baseline else 0.0, self._ours(key[0]))
            self.last[key] = cpu
            if cmd:  # a worker's start command replaces itself with Celery's; a zombie has none
                self.cmd[key] = cmd

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.every)

    @staticmethod
    def _machine() -> dict[str, float]:
        """The machine's CPU seconds so far by state (/proc/stat's first line)."""
        names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
        values = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
        ticks = os.sysconf("SC_CLK_TCK")
        return {n: int(v) / ticks for n, v in zip(names, values, strict=True)}

    def machine(self) -> dict[str, float]:
        """Machine CPU seconds by state over the window: ``steal`` is time the hypervisor
        gave to other guests, ``iowait`` idle time waiting for the disk."""
        return {k: round(v - self._machine_start[k], 1) for k, v in self._machine_end.items()}

    def start(self) -> CpuSampler:
        self._machine_start = self._machine()
        self._sample(baseline=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._sample()  # the processes still alive, up to now
        self._machine_end = self._machine()
        by_role: dict[str, float] = {}
        for key, (start, ours) in self.first.items():
            used = self.last[key] - start
            cmd = self.cmd.get(key, "")
            roles = ROLES if ours else SHARED_SERVERS
            role = next((r for r, marker in roles if marker in cmd), "other")
            by_role[role] = by_role.get(role, 0.0) + used
            if role == "other" and used > 0.2:
                self.others[cmd[:120]] = round(self.others.get(cmd[:120], 0.0) + used, 1)
        return {k: round(v, 1) for k, v in sorted(by_role.items(), key=lambda kv: -kv[1])}


def at_once(stack: Stack, runs: int) -> None:
    """Let the stack's instance run at least ``runs`` runs at once (deploy/dagster.yaml: 8)."""
    import yaml

    path = stack.tmp / "dagster_home" / "dagster.yaml"
    config = yaml.safe_load(path.read_text())
    limits = config["concurrency"]["runs"]
    limits["max_concurrent_runs"] = max(limits["max_concurrent_runs"], runs)
    path.write_text(yaml.safe_dump(config))


def _wait_started(client: CreditClient, tags: dict[str, str], count: int) -> None:
    """Until every run has its orchestrator up and its first steps queued."""
    while True:
        statuses = list(client.runs(tags).values())
        if len(statuses) == count and all(s == dg.DagsterRunStatus.STARTED for s in statuses):
            time.sleep(3)  # the orchestrators submit their first steps within a second or two
            return
        if any(s in {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED} for s in statuses):
            raise RuntimeError(f"a run of {tags} failed before the workers started")
        time.sleep(1)


def launch(client: CreditClient, days: list[str], days_per_run: int) -> tuple[dict[str, str], int]:
    """Launch the days' runs: a backfill (its policy puts up to ``DAYS_PER_RUN`` days in a
    run), or one run per day as the daily schedule launches them. The tags that find the
    runs, and how many there are."""
    if days_per_run == 1:
        batch = uuid.uuid4().hex[:8]
        for day in days:
            client.score(day, tags={BATCH_TAG: batch})
        return {BATCH_TAG: batch}, len(days)
    return {BACKFILL_TAG: client.backfill(days)}, backfill_runs(len(days))


def measure(
    name: str,
    data: Path,
    days: list[str],
    train_config: dict,
    tmp: Path,
    steps_only: bool,
    storage: str,
) -> dict:
    """Two clocks. End to end: from the first run's creation (the backfill daemon creates
    them on its next 30-second look, reported apart) to the last run's end, with the
    orchestrators starting on the same two cores as the workers. Steps only (Celery): the
    workers are stopped while every run's orchestrator starts and queues its first steps,
    then started; the clock runs from the workers being ready to the last run's end. The CPU
    every process uses is counted from the launch with either clock, so the orchestrators'
    start-up is in their cost per partition."""
    profile, workers, days_per_run = CONFIGS[name]
    stack = Stack(
        tmp / name,
        data,
        workers=workers,
        profile=profile,
        extra_env=ONE_THREAD,
        shared_path=storage == "shared-path",
    )
    # Steps only: every run's orchestrator is up before the workers start, so the deployment
    # must run all of them at once (an idle orchestrator costs memory, about no CPU).
    at_once(stack, len(days))
    try:
        stack.start()
        client = CreditClient("santander", "127.0.0.1", stack.ports["web"])
        trained = client.wait(client.launch(client.training_job, run_config=train_config), 1800)
        if trained != dg.DagsterRunStatus.SUCCESS:
            raise RuntimeError(f"training ended {trained}; logs in {stack.logs}")
        steps_only = steps_only and bool(workers)
        if steps_only:
            for worker in workers:
                stack.procs[worker].stop()
        load_before = round(os.getloadavg()[0], 2)
        # from the launch: every orchestrator's start-up counts, whatever the clock
        sampler = CpuSampler(stack.tmp / "dagster_home").start()
        launched = time.time()
        tags, runs_expected = launch(client, days, days_per_run)
        steps_began = None
        if steps_only:
            _wait_started(client, tags, runs_expected)
            for worker in workers:
                stack.start_worker(worker)
            wait_until(lambda: all(stack.worker_ready(w) for w in workers), 600, "workers")
            steps_began = time.time()
        # the end is read from the runs' records, so polling seldom loses no precision and
        # keeps the webserver (which answers the polls) off the two cores
        statuses = client.wait_runs(tags, runs_expected, timeout=7200, poll=5)
        cpu_by_role = sampler.stop()
        with stack.environment():
            instance = dg.DagsterInstance.get()
        try:
            runs = instance.get_run_records(dg.RunsFilter(tags=tags))
            ended = max(r.end_time for r in runs)
            created = min(r.create_timestamp.timestamp() for r in runs)
            costs = run_costs(instance, [r.dagster_run.run_id for r in runs], len(days))
        finally:
            instance.dispose()
        failed = [k for k, s in statuses.items() if s != dg.DagsterRunStatus.SUCCESS]
        if failed:
            raise RuntimeError(f"{name}: runs {failed} did not succeed; logs in {stack.logs}")
        seconds = ended - (steps_began or created)
        per_partition = {
            role: round(cpu_by_role.get(role, 0.0) / len(days), 2)
            for role in ("worker", "orchestrators", "code server")
        }
        return {
            "config": name,
            "workers": len(workers),
            "days_per_run": days_per_run,
            "runs": len(runs),
            "load_average_before": load_before,
            "load_average_after": round(os.getloadavg()[0], 2),
            "clock": "steps only" if steps_only else "end to end",
            "storage": storage,
            # a backfill's runs are created by the daemon's backfill loop, which looks every
            # 30 s: a wait of 0-30 s, the same with any number of workers, left out of seconds
            "first_run_created_after_launch_seconds": round(created - launched, 1),
            "seconds": round(seconds, 1),
            "partitions_per_minute": round(len(days) / seconds * 60, 2),
            # share of the workers' time spent on steps
            "worker_utilization": round(costs["worker_busy_seconds"] / (len(workers) * seconds), 2)
            if workers
            else None,
            **costs,
            # CPU seconds per partition from the launch on: the workers' (the steps'), the
            # orchestrators' and the code server's (it starts each run's orchestrator)
            "cpu_seconds_per_partition": per_partition,
            "orchestrator_cpu_vs_steps": round(
                per_partition["orchestrators"] / per_partition["worker"], 3
            )
            if per_partition["worker"]
            else None,
            # CPU seconds used from the launch to the end, by process role (the machine's two cores
            # give 2 x seconds in all)
            "cpu_seconds_by_role": cpu_by_role,
            "cpu_seconds_other": sampler.others,
            # the whole machine in the window, by state (steal: taken by other guests)
            "machine_cpu_seconds": sampler.machine(),
        }
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--rows", type=int, default=60_000, help="applications per partition")
    parser.add_argument("--features", type=int, default=90)
    parser.add_argument("--history", type=int, default=20_000, help="labelled history rows")
    parser.add_argument("--max-rounds", type=int, default=2_000, help="boosting rounds at most")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help=", ".join(CONFIGS))
    parser.add_argument(
        "--clock",
        choices=["steps", "end-to-end"],
        default="end-to-end",
        help="Celery: time the steps only, or from the backfill's launch (see measure)",
    )
    parser.add_argument(
        "--storage",
        choices=["shared-path", "s3"],
        default="shared-path",
        help="asset files in a folder every worker of this host sees, or on the S3 server "
        "(what several hosts need; here its server shares the two cores)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure the configurations this many rounds, one after the other in each round; "
        "the speed-up is taken within each round (the shared machine's speed drifts between "
        "rounds) and the median over rounds reported",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scaling.json")
    args = parser.parse_args()
    missing = missing_services()
    if missing:
        sys.exit("the scaling benchmark needs " + ", ".join(missing))
    days = [(START + dt.timedelta(days=i)).isoformat() for i in range(args.partitions)]
    train_config = {"ops": {"santander__model": {"config": {"max_rounds": args.max_rounds}}}}
    rounds: list[dict[str, dict]] = []
    with tempfile.TemporaryDirectory(prefix="credit-bench-") as tmp:
        data = Path(tmp) / "data"
        make_data(data, args.partitions, args.rows, args.features, args.history)
        for _ in range(args.repeat):
            rounds.append({})
            for name in args.configs.split(","):
                result = measure(
                    name, data, days, train_config, Path(tmp), args.clock == "steps", args.storage
                )
                print(json.dumps(result), flush=True)
                rounds[-1][name] = result
    summary = {
        "partitions": args.partitions,
        "rows_per_partition": args.rows,
        "features": args.features,
        "storage": args.storage,
        "clock": args.clock,
        "rounds": rounds,
        # within each round (the shared machine's speed drifts between rounds), then the median
        **ratios(rounds, "speedup_2_vs_1_workers", "celery-2", "celery-1"),
        **ratios(rounds, "speedup_2_vs_1_workers_daily", "celery-2-daily", "celery-1-daily"),
        **ratios(rounds, "speedup_days_per_run_vs_one_2_workers", "celery-2", "celery-2-daily"),
        **ratios(rounds, "speedup_days_per_run_vs_one_1_worker", "celery-1", "celery-1-daily"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(
        f"\n{'config':<16}{'days/run':>9}{'seconds':>9}{'partitions/min':>16}"
        f"{'steps CPU/partition':>21}{'orchestrator CPU/partition':>28}"
    )
    for i, results in enumerate(rounds, 1):
        for r in results.values():
            cpu = r["cpu_seconds_per_partition"]
            print(
                f"{r['config']:<16}{r['days_per_run']:>9}{r['seconds']:>9}"
                f"{r['partitions_per_minute']:>16}{cpu['worker']:>21}"
                f"{cpu['orchestrators']:>20} ({r['orchestrator_cpu_vs_steps']:.1%})  round {i}"
            )
    for key, value in summary.items():
        if key.startswith("speedup") and not key.endswith("_by_round"):
            print(f"{key}: {value} (by round: {summary[key + '_by_round']})")
    print(args.out)


def ratios(rounds: list[dict[str, dict]], name: str, faster: str, slower: str) -> dict:
    """Partitions a minute of ``faster`` over ``slower`` in each round that has both, and
    their median (none if no round has both)."""
    by_round = [
        round(r[faster]["partitions_per_minute"] / r[slower]["partitions_per_minute"], 2)
        for r in rounds
        if {faster, slower} <= set(r)
    ]
    if not by_round:
        return {}
    return {name: statistics.median(by_round), f"{name}_by_round": by_round}


if __name__ == "__main__":
    main()
