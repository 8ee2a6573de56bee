"""Decision log benchmark: a day's batch recorded with JSON inputs per row against blobs.

The same batch (``--rows`` applications of ``--features`` floats, decided in chunks of
``--chunk-rows`` as the daily ``decisions`` step does) is put on record twice, each time in a
fresh database:

* ``json 0002``: every row with its inputs as a JSON object, staged a chunk at a time in a
  temporary file and inserted in one transaction, on the schema of migration 0002: the
  batch's way before (on PostgreSQL, JSON compressed with pglz);
* ``json``: the same on the latest schema: the API's way (PostgreSQL compresses it with lz4);
* ``blobs insert``: ``DecisionLog.batch``, each chunk's inputs in blobs of ``--blob-rows``
  in ``decision_inputs``, the rows pointing into them (also one transaction), written with
  ``INSERT`` (executemany) as before COPY (PostgreSQL only: SQLite always inserts);
* ``blobs``: the same as ``DecisionLog.batch`` writes it: ``COPY`` on PostgreSQL.

On SQLite (a temporary file) and on a scratch PostgreSQL database (``--pg``; ``--no-pg`` to
skip) it prints the client's CPU (this process, every thread), the server's CPU (the
PostgreSQL backends of the scratch database, from ``/proc/<pid>/stat``), wall time and the
size on disk, then reading the day back: ``frame()`` of the day and ``get()`` of one
decision (the median of 30, in ms). Ratios are blobs / each other path.

    python bench/decision_log.py [--rows 60000] [--features 200] [--chunk-rows 20000]
                                 [--blob-rows 1000] [--paths P ...] [--decimals N]
                                 [--pg URL | --no-pg]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from alembic import command

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from credit_assets.core import decision_log  # noqa: E402
from credit_assets.core.contract import load_contract  # noqa: E402
from credit_assets.core.decision_inputs import input_records  # noqa: E402
from credit_assets.core.decision_log import DecisionLog, alembic_config  # noqa: E402
from credit_assets.core.decision_log_schema import decision_inputs, decisions  # noqa: E402
from credit_assets.core.rules import RULE_ID, RULE_REASON  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "decision_log.json"
PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
DAY = "2026-11-01"
PATHS = ("json 0002", "json", "blobs insert", "blobs")
GETS = 30


def batch(rows: int, features: int, decimals: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inputs (``ID_code``, ``var_*``, ``gender``) and what ``pipeline.decide`` returns."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=(rows, features))
    if decimals is not None:
        values = values.round(decimals)
    inputs = pd.DataFrame(values, columns=[f"var_{i}" for i in range(features)])
    inputs.insert(0, "ID_code", [f"test_{i}" for i in range(rows)])
    inputs["gender"] = rng.choice(["F", "M"], rows)
    decided = pd.DataFrame(
        {
            "ID_code": inputs["ID_code"],
            "decision": rng.choice(["approve", "reject", "review"], rows),
            "score": rng.random(rows),
            RULE_ID: None,
            RULE_REASON: None,
            "model_version": "3",
            "thresholds_version": "abc",
            "rules_version": "r1",
            **{f"reason_{i}": f"var_{i}" for i in range(1, 5)},
            **{f"reason_text_{i}": f"var_{i} is high" for i in range(1, 5)},
            **{f"contribution_{i}": 0.1 for i in range(1, 5)},
        }
    )
    return inputs, decided


def chunks(inputs: pd.DataFrame, decided: pd.DataFrame, size: int):
    for start in range(0, len(inputs), size):
        yield decided.iloc[start : start + size], inputs.iloc[start : start + size]


def record_json(log: DecisionLog, inputs, decided, contract, size: int, at) -> None:
    """The batch's way before migration 0003: JSON rows staged in a file, one transaction."""
    with log.engine.connect() as conn:  # the schema may be an older revision's
        table = sa.Table("decisions", sa.MetaData(), autoload_with=conn)
    with tempfile.TemporaryFile() as staging:
        for d, i in chunks(inputs, decided, size):
            records = input_records(i, contract, log.redact_protected)
            rows = log.rows(
                "santander", d, records, contract, None, source="batch", actor="bench",
                partition_day=DAY, decided_at=at,
            )  # fmt: skip
            rows = [{k: v for k, v in r.items() if k in table.c} for r in rows]
            pickle.dump(rows, staging, protocol=pickle.HIGHEST_PROTOCOL)
        end = staging.tell()
        staging.seek(0)
        with log.transaction() as conn:
            while staging.tell() < end:
                conn.execute(table.insert(), pickle.load(staging))


def record_blobs(log: DecisionLog, inputs, decided, contract, size: int, at) -> None:
    with log.batch("santander", contract, actor="bench", partition_day=DAY, decided_at=at) as b:
        for d, i in chunks(inputs, decided, size):
            b.add(d, i)
        b.commit()


def _insert_only(conn: sa.Connection, chunk) -> None:
    """How ``decision_log._insert`` wrote a chunk before COPY, on any database."""
    conn.execute(decision_inputs.insert(), chunk.blobs)
    conn.execute(decisions.insert(), decision_log._row_dicts(chunk.rows))


def record_blobs_insert(log: DecisionLog, inputs, decided, contract, size: int, at) -> None:
    copy, decision_log._insert = decision_log._insert, _insert_only
    try:
        record_blobs(log, inputs, decided, contract, size, at)
    finally:
        decision_log._insert = copy


class Server:
    """CPU seconds of the PostgreSQL backends serving one database (none for SQLite)."""

    def __init__(self, admin: sa.Engine | None, database: str | None) -> None:
        self.admin, self.database = admin, database

    def seconds(self) -> dict[int, float]:
        if self.admin is None:
            return {}
        with self.admin.connect() as conn:
            pids = conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
                {"d": self.database},
            ).scalars()
            return {pid: _cpu(pid) for pid in pids}


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def database(backend: str, pg_admin: str, tmp: Path):
    """A fresh decision log, with what measures its server."""
    if backend == "sqlite":
        yield DecisionLog(f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}"), Server(None, None)
        return
    admin = sa.create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    name = f"bench_decision_log_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    log = DecisionLog(sa.make_url(pg_admin).set(database=name).render_as_string(False))
    try:
        yield log, Server(admin, name)
    finally:
        log.engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def size_mb(log: DecisionLog) -> float:
    """The decision log on disk: both tables (PostgreSQL, with TOAST and indexes) or the
    whole file (SQLite, its WAL checkpointed)."""
    with log.engine.connect() as conn:
        if log.engine.dialect.name == "sqlite":
            conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
            return Path(log.engine.url.database).stat().st_size / 1e6
        total = "pg_total_relation_size('decisions') + pg_total_relation_size('decision_inputs')"
        return conn.execute(sa.text(f"SELECT {total}")).scalar_one() / 1e6


def measure(backend, path, args, inputs, decided, contract, tmp) -> dict[str, float]:
    record = {"blobs": record_blobs, "blobs insert": record_blobs_insert}.get(path, record_json)
    at = dt.datetime.now(dt.UTC)
    with database(backend, args.pg, tmp) as (log, server):
        if path == "json 0002":
            with log.engine.begin() as conn:
                command.upgrade(alembic_config(conn), "0002")
        else:
            log.migrate()
        before = server.seconds()
        cpu, wall = time.process_time(), time.perf_counter()
        record(log, inputs, decided, contract, args.chunk_rows, at)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = server.seconds()
        out = {
            "client_cpu_s": cpu,
            "server_cpu_s": sum(s - before.get(pid, 0.0) for pid, s in after.items()),
            "wall_s": wall,
            "size_mb": size_mb(log),
        }
        log.migrate()  # read on the latest schema, outside the timings
        started = time.perf_counter()
        day = log.frame("santander")
        out["frame_s"] = time.perf_counter() - started
        assert len(day) == len(inputs)
        gets = []
        for one in day["decision_id"].sample(GETS, random_state=0):
            started = time.perf_counter()
            assert log.get("santander", one) is not None
            gets.append(time.perf_counter() - started)
        out["get_ms"] = 1000 * float(np.median(gets))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--features", type=int, default=200)
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument("--blob-rows", type=int, default=decision_log.BLOB_ROWS)
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--decimals", type=int, help="round inputs (files hold 4 decimals)")
    parser.add_argument("--pg", default=PG, help="PostgreSQL admin URL for a scratch database")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    decision_log.BLOB_ROWS = args.blob_rows
    contract = load_contract(None)
    inputs, decided = batch(args.rows, args.features, args.decimals)
    backends = ["sqlite"] if args.no_pg else ["sqlite", "postgresql"]
    figures: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            figures[backend] = {
                path: measure(backend, path, args, inputs, decided, contract, Path(tmp))
                for path in args.paths
                if not (backend == "sqlite" and path == "blobs insert")  # the same on SQLite
            }
    columns = ["client_cpu_s", "server_cpu_s", "wall_s", "size_mb", "frame_s", "get_ms"]
    print(
        f"{args.rows:,} rows x {args.features} inputs, chunks of {args.chunk_rows:,},"
        f" blobs of {args.blob_rows:,}"
    )
    print(f"{'':26s}" + "".join(f"{c:>14s}" for c in columns))
    for backend, paths in figures.items():
        for path, out in paths.items():
            print(f"{backend + ' ' + path:26s}" + "".join(f"{out[c]:14.2f}" for c in columns))
        for baseline in [p for p in paths if p != "blobs"] if "blobs" in paths else []:
            ratios = [
                paths["blobs"][c] / paths[baseline][c] if paths[baseline][c] else float("nan")
                for c in columns
            ]
            label = f"{backend} blobs/{baseline}"
            print(f"{label:26s}" + "".join(f"{r:14.2f}" for r in ratios))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "args": vars(args),
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
                "figures": figures,
            },
            indent=2,
        )
    )
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
