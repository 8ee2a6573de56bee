"""Decision API benchmark: what one real-time decision costs, and latency under load.

A model is trained on generated Santander-format history (as ``bench/decisions.py`` does),
registered as the champion in a scratch MLflow registry, and served by ``credit-assets
serve`` on loopback with the decision log on SQLite. In one run:

* (a) ``bare predict``: the model's probability for one application (``pipeline.risk``);
* (b) ``in-process decision``: what the service does for one request, without HTTP: parse
  and validate the JSON body, decide (rules, score, band, reasons), commit it to the log;
  and the decision alone, through the batch's ``decide`` on a one-row frame and through the
  one-application path the API takes (``core/onerow.py``);
* (c) HTTP latency p50 / p99 / max at fixed request rates, open loop: requests leave on a
  fixed schedule whether or not earlier ones were answered, and latency counts from the
  scheduled time, so queueing shows. After the load, the log must hold exactly one row per
  answered request (none for a refused one), and the server's CPU time per answer (its
  processes' user + system time, from ``/proc``). Before each rate, the same schedule of
  ``GET /healthz``: the latency that the machine, the server and the client add alone;
* (d) the batch endpoint's throughput (applications a second) against the bare model's
  batch predict on the same applications.

    python bench/serving.py [--rates 50,100,200] [--seconds 10] [--workers 1]
                            [--features 200] [--history 20000] [--max-rounds 2000]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before LightGBM loads: one core per process

import argparse
import asyncio
import json
import math
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from decisions import fitted_pipeline, make_frame  # noqa: E402

from credit_assets.core.api_keys import ApiKeys, parse_scopes  # noqa: E402
from credit_assets.core.decision_log import DecisionLog  # noqa: E402
from credit_assets.core.registry import ModelRegistry  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "serving.json"
MODEL = "credit-santander"


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def timed(work, repeat: int) -> list[float]:
    out = []
    for i in range(repeat):
        started = time.perf_counter()
        work(i)
        out.append(time.perf_counter() - started)
    return out


def applications(frame) -> list[dict]:
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants so far (Linux ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pids = 0.0, [pid]
    while pids:
        p = pids.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
            continue
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Connections:
    """Keep-alive HTTP/1.1 connections to one server, each carrying one request at a time.

    A bare asyncio client: httpx's AsyncClient spent 8-10 ms of CPU a request on this
    machine, so at 100 requests a second the load generator, not the service, queued."""

    IDLE_SECONDS = 2.0  # well before the server's 5 s keep-alive closes one under a request

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self.idle:
            reader, writer, since = self.idle.pop()
            if time.perf_counter() - since < self.IDLE_SECONDS:
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    async def send(self, request: bytes) -> int:
        reader, writer = await self._connection()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        self.idle.append((reader, writer, time.perf_counter()))
        return status

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()


def request(method: str, path: str, headers: dict, body: dict | None) -> bytes:
    """One request's bytes, encoded once before the clock starts."""
    data = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: bench", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()] + [f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def open_loop(
    url: str, headers: dict, bodies: list[dict | None], rate: float, seconds: float
):
    """Send ``rate`` requests a second for ``seconds`` on a fixed schedule (a POST of each
    body in turn, a GET for ``None``); latency of each from its scheduled time to its answer."""
    total = int(rate * seconds)
    address = httpx.URL(url)
    path = address.raw_path.decode()
    requests = [request("GET" if b is None else "POST", path, headers, b) for b in bodies]
    latencies: list[float] = []
    statuses: list[int] = []
    connections = Connections(address.host, address.port)
    start = time.perf_counter() + 0.2

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        try:
            statuses.append(await connections.send(requests[i % len(requests)]))
        except (OSError, asyncio.IncompleteReadError):  # no answer: counted as refused
            statuses.append(0)
        latencies.append(time.perf_counter() - due)

    await asyncio.gather(*(one(i) for i in range(total)))
    connections.close()
    return latencies, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="50,100,200")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--features", type=int, default=200)
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--max-rounds", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the server on the way out

    home = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    env = {
        **os.environ,
        "CREDIT_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "CREDIT_SERVING_MAX_BATCH": str(args.batch),
        "MLFLOW_LOGGING_LEVEL": "WARNING",
    }
    os.environ.update({k: env[k] for k in ("CREDIT_HOME", "MLFLOW_TRACKING_URI")})
    history, y = make_frame(args.history, args.features, seed=0)
    pipeline = fitted_pipeline(history, y, args.max_rounds)
    registry = ModelRegistry(env["MLFLOW_TRACKING_URI"], MODEL, MODEL, (home / "art").as_uri())
    run_id = registry.start_run("bench-serving", {})
    version = registry.register(run_id, pipeline, history.head(5)).version
    registry.promote(version, by="bench", reason="bench")
    frame, _ = make_frame(max(args.batch, 2000), args.features, seed=1)
    bodies = applications(frame)
    log = DecisionLog(f"sqlite:///{home / 'decisions.db'}")
    token = ApiKeys(log).create("bench", parse_scopes(["santander:decide"]))[1]
    results: dict = {
        "features": args.features,
        "trees": int(pipeline.model.best_iteration),
        "workers": args.workers,
    }

    # (a) and (b): in-process, one application at a time
    rows = [frame.iloc[[i]] for i in range(args.repeat)]
    results["bare_predict"] = percentiles(timed(lambda i: pipeline.risk(rows[i]), args.repeat))
    from credit_assets.serving.app import ServingSettings, create_app
    from credit_assets.settings import Settings

    service = create_app(Settings.from_env(), ServingSettings()).state.service
    served = service.served("santander")

    payloads = [json.dumps(b).encode() for b in bodies]

    def decide_one(i: int) -> None:
        application = served.application.model_validate_json(payloads[i])
        service.decide(
            "santander",
            served,
            [application],
            None,
            request_id=f"bench-{i}",
            idempotency=None,
            started=time.perf_counter(),
        )

    results["in_process_decision"] = percentiles(timed(decide_one, args.repeat))
    results["decide_only"] = percentiles(
        timed(lambda i: pipeline.decide(rows[i], model_version=version), args.repeat)
    )
    one_row = served.one_row
    assert one_row is not None, "the bench's champion is compiled"
    results["decide_one_row"] = percentiles(
        timed(
            lambda i: one_row.decision_columns(one_row.values(bodies[i]), model_version=version),
            args.repeat,
        )
    )

    # (c) and (d): over HTTP, against `credit-assets serve`
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("credit-assets")),
            *("serve", "--port", str(port), "--workers", str(args.workers)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"X-API-Key": token}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the service did not get ready")
            time.sleep(0.5)
        for body in bodies[:50]:  # warm up every worker
            httpx.post(f"{base}/v1/santander/decisions", json=body, headers=headers)
        results["http"] = {}
        for rate in [float(r) for r in args.rates.split(",")]:
            # the same schedule on /healthz: what the machine and the loop cost alone
            latencies, _ = asyncio.run(open_loop(f"{base}/healthz", {}, [None], rate, args.seconds))
            results["http"][f"healthz_{int(rate)}"] = percentiles(latencies)
            print(f"{rate:>5.0f}/s healthz", results["http"][f"healthz_{int(rate)}"], flush=True)
            before, cpu_before = log.count("santander"), cpu_seconds(server.pid)
            latencies, statuses = asyncio.run(
                open_loop(f"{base}/v1/santander/decisions", headers, bodies, rate, args.seconds)
            )
            cpu = cpu_seconds(server.pid) - cpu_before
            answered = statuses.count(200)
            added = log.count("santander") - before
            results["http"][str(int(rate))] = {
                **percentiles(latencies),
                "requests": len(statuses),
                "answered": answered,
                "refused": len(statuses) - answered,
                "log_rows_added": added,
                "one_row_per_answer": added == answered,
                "server_cpu_ms_per_answer": 1000 * cpu / max(answered, 1),
            }
            print(f"{rate:>5.0f}/s", results["http"][str(int(rate))], flush=True)
        batch = {"applications": bodies[: args.batch]}
        batch_frame = frame.iloc[: args.batch]
        with httpx.Client(headers=headers, timeout=120) as client:
            client.post(f"{base}/v1/santander/decisions:batch", json=batch)
            http_batch = min(
                timed(
                    lambda _: client.post(f"{base}/v1/santander/decisions:batch", json=batch),
                    3,
                )
            )
        bare_batch = min(timed(lambda _: pipeline.risk(batch_frame), 3))
        results["batch"] = {
            "applications": args.batch,
            "endpoint_per_second": args.batch / http_batch,
            "bare_predict_per_second": args.batch / bare_batch,
            "ratio": bare_batch / http_batch,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["load_average_1min_after"] = os.getloadavg()[0]  # other work on the machine
    print(json.dumps(results, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
