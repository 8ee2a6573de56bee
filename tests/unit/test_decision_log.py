"""The decision log on SQLite and PostgreSQL: append-only history, idempotency, the review
queue, live-traffic frames, redaction and bulk speed."""

import datetime as dt
import hashlib
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import orjson
import pandas as pd
import pytest
import sqlalchemy as sa

from credit_assets.core import decision_log
from credit_assets.core.api_keys import ApiKeyError, ApiKeys, parse_scopes
from credit_assets.core.contract import load_contract
from credit_assets.core.decision_inputs import decode, fingerprint, input_records
from credit_assets.core.decision_log import (
    DecisionLog,
    DecisionLogUnavailableError,
    IdempotencyConflictError,
    alembic_config,
)
from credit_assets.core.features import FeatureBuilder
from credit_assets.core.pipeline import DecisionPipeline
from credit_assets.core.rules import RULE_ID, RULE_REASON
from credit_assets.core.synthetic import SyntheticSpec, draw, make_shapes
from credit_assets.core.thresholds import Thresholds
from credit_assets.core.training import TrainConfig, train
from tests.conftest import FIXTURES, LOANS_JOBS, _loans

PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
LOANS_CONTRACT = FIXTURES / "loans.yaml"


@pytest.fixture(scope="module")
def fitted():
    spec = SyntheticSpec(n_features=90, signal=0.12)
    sample = draw(1500, make_shapes(spec), spec, np.random.default_rng(0))
    cols = [f"var_{j}" for j in range(90)]
    frame = pd.DataFrame(sample.x.round(4), columns=cols)
    frame.insert(0, "ID_code", [f"r{i}" for i in range(len(frame))])
    frame["gender"] = np.where(np.arange(len(frame)) % 2, "F", "M")
    builder = FeatureBuilder(numeric=cols, categorical=[], frequency=[])
    model = train(
        builder,
        frame.iloc[:1000],
        sample.y[:1000],
        frame.iloc[1000:1200],
        sample.y[1000:1200],
        TrainConfig(max_rounds=30, early_stopping_rounds=10),
    )
    # a wide band, so a few hundred rows hold every kind of decision
    thresholds = Thresholds(0.08, 0.2, 0.9, "balanced", 0.8, 0.9)
    return DecisionPipeline(load_contract(), model, thresholds, cols), frame.iloc[1200:]


def _postgres_url():
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            name = f"decision_log_{uuid.uuid4().hex[:10]}"
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is needed: {exc}")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not running")
    return engine, name


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def log(request, tmp_path):
    if request.param == "sqlite":
        yield DecisionLog(f"sqlite:///{tmp_path / 'decisions.db'}")
        return
    admin, name = _postgres_url()
    made = DecisionLog(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}")
    yield made
    made.engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def _record(log, pipeline, rows, day, version="1", actor="decisions asset"):
    decided = pipeline.decide(rows, model_version=version)
    log.record_batch(
        "santander",
        decided,
        rows,
        pipeline.contract,
        pipeline.thresholds,
        actor=actor,
        partition_day=day,
    )
    return decided


def test_redeciding_a_day_appends_and_history_keeps_what_was_said(log, fitted):
    pipeline, rows = fitted
    first = _record(log, pipeline, rows, "2026-11-01", version="1")
    _record(log, pipeline, rows, "2026-11-01", version="2", actor="re-run")
    assert log.count("santander") == 2 * len(rows)
    app = rows["ID_code"].iloc[3]
    history = log.history("santander", app)
    assert [h.model_version for h in history] == ["1", "2"]
    assert log.latest("santander", app).actor == "re-run"
    told = history[0]
    assert told.decision == first["decision"].iloc[3]
    assert told.source == "batch" and told.partition_day == "2026-11-01"
    assert told.inputs["var_0"] == rows["var_0"].iloc[3]
    assert told.reasons[0].text == first["reason_text_1"].iloc[3]
    assert (told.approve_below, told.reject_above) == (0.08, 0.2)
    assert told.decided_at.tzinfo is not None


def test_a_batch_staged_chunk_by_chunk_is_on_record_only_once_committed(log, fitted):
    pipeline, rows = fitted
    at = dt.datetime(2026, 11, 2, 6, tzinfo=dt.UTC)
    with log.batch(
        "santander", pipeline.contract, pipeline.thresholds, actor="run", decided_at=at
    ) as batch:
        for start in range(0, len(rows), 120):
            chunk = rows.iloc[start : start + 120]
            batch.add(pipeline.decide(chunk, model_version="1"), chunk)
        assert log.count("santander") == 0  # staged, not on record
    assert log.count("santander") == 0  # a batch never committed leaves nothing
    assert _blobs(log) == 0  # not even its inputs
    with log.batch("santander", pipeline.contract, actor="run", decided_at=at) as batch:
        for start in range(0, len(rows), 120):
            chunk = rows.iloc[start : start + 120]
            batch.add(pipeline.decide(chunk, model_version="1"), chunk)
        assert batch.commit() == len(rows) == log.count("santander")
    frame = log.frame("santander")
    assert frame["application_id"].tolist() == rows["ID_code"].tolist()  # in order
    assert frame["decided_at"].eq(at).all()


def _blobs(log):
    with log.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM decision_inputs")).scalar_one()


def _blob_rows(log):
    """Each blob's rows, in the order its decisions were recorded."""
    with log.engine.connect() as conn:
        return (
            conn.execute(
                sa.text(
                    "SELECT b.row_count FROM decision_inputs b JOIN decisions d"
                    " ON d.inputs_id = b.inputs_id AND d.inputs_row = 0 ORDER BY d.seq"
                )
            )
            .scalars()
            .all()
        )


def _loans_inputs(n):
    """The loans fixture's applications as a day's chunk may hold them: categories, a date,
    integers, missing numbers and text."""
    frame = _loans(n, np.random.default_rng(1), dt.date(2026, 11, 3), False, "n")
    frame["employment"] = frame["employment"].astype("category")
    frame["applied_on"] = pd.to_datetime(frame["applied_on"])
    frame.loc[frame.index[::7], "region"] = None
    return frame


def _decided(inputs, contract):
    """Decisions of every kind for ``inputs`` (what ``pipeline.decide`` returns)."""
    n = len(inputs)
    kinds = np.array(["review", "approve", "reject", "review"])
    return pd.DataFrame(
        {
            contract.id_column: inputs[contract.id_column].to_numpy(),
            "decision": kinds[np.arange(n) % 4],
            "score": np.linspace(0, 1, n),
            RULE_ID: None,
            RULE_REASON: None,
            "model_version": "1",
            "thresholds_version": "t1",
            "rules_version": "r1",
            "reason_1": "income",
            "reason_text_1": "income is low",
            "contribution_1": 0.25,
        }
    )


@pytest.mark.parametrize("redact", [False, True], ids=["plain", "redacted"])
@pytest.mark.parametrize("dataset", ["santander", "loans"])
def test_a_batch_stored_as_blobs_reads_as_its_json_would(log, fitted, dataset, redact, monkeypatch):
    """The same decisions written with JSON per row (the API's way, and every batch's before
    migration 0003) and through ``batch()`` in chunks read back the same, by every reader;
    a chunk larger than a blob makes several blobs."""
    monkeypatch.setattr(decision_log, "BLOB_ROWS", 40)
    if dataset == "santander":
        contract, inputs = fitted[0].contract, fitted[1].iloc[:150].copy()
        inputs.iloc[3, 2] = np.nan  # missing, and infinite (JSON null), numbers
        inputs.iloc[4, 5] = np.inf
    else:
        contract, inputs = load_contract(LOANS_CONTRACT), _loans_inputs(150)
    log = DecisionLog(log.url, redact_protected=redact)
    decided = _decided(inputs, contract)
    at = dt.datetime(2026, 11, 3, 6, tzinfo=dt.UTC)
    kwargs = {"actor": "run", "partition_day": "2026-11-03", "decided_at": at}
    records = input_records(inputs, contract, redact)
    log.append(log.rows("json", decided, records, contract, None, source="batch", **kwargs))
    with log.batch("blobs", contract, **kwargs) as batch:
        for start in range(0, len(inputs), 64):
            chunk = slice(start, start + 64)
            batch.add(decided.iloc[chunk], inputs.iloc[chunk])
        batch.commit()

    with log.engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT count(*) FROM decisions WHERE dataset = 'blobs' AND inputs IS NULL"
                " AND inputs_id IS NOT NULL AND inputs_row IS NOT NULL"
            )
        ).scalar_one()
    # chunks of 64, 64 and 22 rows: blobs of 40 + 24, 40 + 24 and 22
    assert stored == len(inputs) and _blob_rows(log) == [40, 24, 40, 24, 22]

    def same(a, b):
        assert [d.inputs for d in a] == [d.inputs for d in b]
        assert [d.input_fingerprint for d in a] == [d.input_fingerprint for d in b]
        assert [d.application_id for d in a] == [d.application_id for d in b]

    ids = inputs[contract.id_column].tolist()
    json_told = [log.latest("json", i) for i in ids]
    same([log.latest("blobs", i) for i in ids], json_told)
    same([log.history("blobs", i)[0] for i in ids[::10]], json_told[::10])
    same([log.get("blobs", log.latest("blobs", i).decision_id) for i in ids[:5]], json_told[:5])
    same(log.review_queue("blobs"), log.review_queue("json"))
    assert len(log.review_queue("blobs")) == (decided["decision"] == "review").sum()
    told = json_told[4]
    protected = contract.resolve_protected(list(inputs.columns))[0]
    assert (told.inputs[protected] == "[redacted]") == redact
    if dataset == "santander":
        assert told.inputs[inputs.columns[5]] is None  # infinity is null in JSON
    else:
        assert told.inputs["applied_on"] == inputs["applied_on"].iloc[4].isoformat()
        assert isinstance(told.inputs["age"], int) and told.inputs["employment"] in LOANS_JOBS

    def frame(name):
        return log.frame(name).drop(columns=["decision_id", "dataset"])

    pd.testing.assert_frame_equal(frame("blobs"), frame("json"))


# Texts COPY's CSV (PostgreSQL) must pass as they are: quotes, separators, line ends,
# backslashes and its own NULL and end-of-data markers, empty strings, unicode.
NASTY = [
    "", '"', '""', "a,b", "two\nlines", "cr\r\nlf", "back\\slash", "\\N", "\\.", "tab\there",
    "NULL", " 余白 ", "理由: 収入が低い", "emoji 😀", "'quote'", ",\n\"",
]  # fmt: skip
FLOATS = [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -2.5e-310, 123456789.123456789, 1e-7]


def test_texts_nulls_floats_and_times_come_back_exactly(log, fitted):
    """A batch written with COPY (PostgreSQL) or executemany (SQLite) reads back as it was
    given: texts character for character, NULL apart from "", floats bit for bit, the time
    as the same instant to the microsecond."""
    pipeline, rows = fitted
    n = len(NASTY)
    inputs = rows.iloc[:n].assign(ID_code=[f"{t}#{i}" for i, t in enumerate(NASTY)])
    scores = [*(FLOATS * 3)[: n - 1], np.nan]
    rule_reasons = [None if i % 3 == 0 else t for i, t in enumerate(NASTY)]
    decided = _decided(inputs, pipeline.contract).assign(
        score=scores, reason_text_1=NASTY[::-1], rule_id="R´1", rule_reason=rule_reasons
    )
    at = dt.datetime(2026, 11, 3, 6, 7, 8, 123456, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    actor = 'run "7", ✓'
    with log.batch("santander", pipeline.contract, actor=actor, decided_at=at) as batch:
        batch.add(decided, inputs)
        batch.commit()

    told = [log.get("santander", i) for i in log.frame("santander")["decision_id"]]
    assert [d.application_id for d in told] == inputs["ID_code"].tolist()
    assert [d.reasons[0].text for d in told] == NASTY[::-1]
    assert [d.rule_reason for d in told] == rule_reasons
    assert {(d.rule_id, d.actor) for d in told} == {("R´1", actor)}
    assert [d.partition_day for d in told] == [None] * n
    bits = np.array(scores).view(np.uint64)[:-1]
    assert np.array([d.score for d in told[:-1]]).view(np.uint64).tolist() == bits.tolist()
    assert told[-1].score is None
    assert {d.decided_at for d in told} == {at}
    assert {d.decided_at.microsecond for d in told} == {123456}
    records = input_records(inputs, pipeline.contract, redact_protected=False)
    assert [d.inputs for d in told] == [orjson.loads(r) for r in records]


def test_a_batch_that_fails_half_way_leaves_nothing_on_record(log, fitted):
    """The last chunk breaks a constraint after the first two were written (on PostgreSQL,
    two COPYs each of blobs and rows): nothing of the batch stays, and the log goes on."""
    pipeline, rows = fitted
    inputs = rows.iloc[:90]
    decided = _decided(inputs, pipeline.contract)
    decided.loc[decided.index[-1], "decision"] = None  # NOT NULL
    with log.batch("santander", pipeline.contract, actor="run") as batch:
        for start in range(0, len(inputs), 30):
            batch.add(decided.iloc[start : start + 30], inputs.iloc[start : start + 30])
        with pytest.raises(sa.exc.IntegrityError):
            batch.commit()
    assert log.count() == 0 and _blobs(log) == 0
    _record(log, pipeline, inputs, "2026-11-01")
    assert log.count() == len(inputs)


def test_blobs_written_as_parquet_before_still_read(log, fitted):
    """Blobs stored before they were Arrow streams (format ``parquet``) read as they did."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pipeline, rows = fitted
    _record(log, pipeline, rows.iloc[:30], "2026-11-01")
    before = log.history("santander", rows["ID_code"].iloc[7])
    with log.engine.begin() as conn:
        ((inputs_id, format_, data),) = conn.execute(
            sa.text("SELECT inputs_id, format, data FROM decision_inputs")
        ).all()
        sink = pa.BufferOutputStream()
        pq.write_table(decode(data, format_), sink)
        parquet = sink.getvalue().to_pybytes()
        conn.execute(
            sa.text(
                "UPDATE decision_inputs SET format = 'parquet', data = :d, sha256 = :h"
                " WHERE inputs_id = :i"
            ),
            {"d": parquet, "h": hashlib.sha256(parquet).hexdigest(), "i": inputs_id},
        )
    assert format_ == "arrow"
    assert log.history("santander", rows["ID_code"].iloc[7]) == before


def test_review_queue_holds_review_decisions_until_a_reviewer_decides(log, fitted):
    pipeline, rows = fitted
    decided = _record(log, pipeline, rows, "2026-11-01")
    in_review = decided.loc[decided["decision"] == "review", "ID_code"].tolist()
    assert in_review, "the fixture's band should send some rows to review"
    queued = [d.application_id for d in log.review_queue("santander")]
    assert queued == in_review
    # a reviewer's decision is a new row; the model's row stays as it was
    reviewed = decided[decided["ID_code"] == in_review[0]].assign(decision="approve")
    log.record_batch(
        "santander",
        reviewed,
        rows[rows["ID_code"] == in_review[0]],
        pipeline.contract,
        source="review",
        actor="reviewer alice",
    )
    assert [d.application_id for d in log.review_queue("santander")] == in_review[1:]
    assert [h.decision for h in log.history("santander", in_review[0])] == ["review", "approve"]


def _api_rows(log, pipeline, decided, inputs, key, actor="api") -> list[dict]:
    """The API's log rows of ``decided`` for ``inputs``, under idempotency ``key``."""
    return log.rows(
        "santander",
        decided,
        input_records(inputs, pipeline.contract, log.redact_protected),
        pipeline.contract,
        pipeline.thresholds,
        source="api",
        actor=actor,
        idempotency_keys=[key],
    )


def test_a_repeated_idempotency_key_returns_the_stored_decision(log, fitted):
    pipeline, rows = fitted
    one = rows.iloc[[0]]
    decided = pipeline.decide(one, model_version="1")

    def attempt(inputs):
        decided_ = pipeline.decide(inputs, model_version="1")
        rows_ = _api_rows(log, pipeline, decided_, inputs, "abc", actor="key k1")
        return log.record_idempotent("santander", rows_)

    (stored,), created = attempt(one)
    (again,), created_again = attempt(one)
    assert created and not created_again
    assert again.decision_id == stored.decision_id
    assert again.decision == decided["decision"].iloc[0]
    assert log.count("santander") == 1
    with pytest.raises(IdempotencyConflictError):
        attempt(one.assign(var_0=one["var_0"] + 1))


def test_concurrent_decisions_share_commits_and_each_gets_its_own_outcome(log, fitted):
    """Group commit: 40 callers at once are all on record in fewer transactions than
    callers; then three at once with one idempotency key: one decides, the others get its
    decision."""
    pipeline, rows = fitted
    commits = []
    sa.event.listen(log.engine, "commit", lambda conn: commits.append(1))

    def made(i: int, key: str | None) -> list[dict]:
        inputs = rows.iloc[[i]]
        decided = pipeline.decision_columns(inputs, model_version="1")
        return _api_rows(log, pipeline, decided, inputs, key)

    def at_once(ready: list[list[dict]]) -> list[tuple[str, bool]]:
        together = threading.Barrier(len(ready))

        def call(made_rows: list[dict]) -> tuple[str, bool]:
            together.wait()
            (recorded,), created = log.record_idempotent("santander", made_rows)
            return recorded.decision_id, created

        with ThreadPoolExecutor(len(ready)) as pool:
            return list(pool.map(call, ready))

    log.migrate()
    commits.clear()
    assert all(created for _, created in at_once([made(i, None) for i in range(40)]))
    assert log.count("santander") == 40
    assert len(commits) < 40
    same = at_once([made(0, "same") for _ in range(3)])
    assert [created for _, created in same].count(True) == 1
    assert len({decision_id for decision_id, _ in same}) == 1
    assert log.count("santander") == 41


def test_live_traffic_reads_as_a_table_with_its_inputs(log, fitted):
    pipeline, rows = fitted
    before = dt.datetime.now(dt.UTC)
    decided = _record(log, pipeline, rows.iloc[:50], "2026-11-02")
    table = log.frame("santander", since=before, source="batch")
    assert table["application_id"].tolist() == rows["ID_code"].iloc[:50].tolist()
    assert table["decision"].tolist() == decided["decision"].tolist()
    assert np.allclose(table["var_5"], rows["var_5"].iloc[:50])
    assert table["gender"].tolist() == rows["gender"].iloc[:50].tolist()
    assert log.frame("santander", source="api").empty


def test_protected_attributes_are_redacted_when_configured(tmp_path, fitted):
    pipeline, rows = fitted
    log = DecisionLog(f"sqlite:///{tmp_path / 'd.db'}", redact_protected=True)
    _record(log, pipeline, rows.iloc[:5], "2026-11-01")
    told = log.history("santander", rows["ID_code"].iloc[0])[0]
    assert told.inputs["gender"] == "[redacted]"
    assert told.inputs["var_1"] == rows["var_1"].iloc[0]


def test_a_day_of_ten_thousand_decisions_is_recorded_in_one_bulk_insert(tmp_path, fitted):
    pipeline, rows = fitted
    many = pd.concat([rows] * 34, ignore_index=True).iloc[:10_000]
    decided = pipeline.decide(many, model_version="1")
    log = DecisionLog(f"sqlite:///{tmp_path / 'd.db'}")
    log.migrate()
    commits = []
    sa.event.listen(log.engine, "commit", lambda conn: commits.append(conn))
    log.record_batch("santander", decided, many, pipeline.contract, actor="bench")
    # one transaction, not one commit per row (bench/serving.py times it)
    assert len(commits) == 1
    assert log.count() == 10_000


def test_migrations_go_down_and_up_again(log):
    from alembic import command

    log.migrate()
    with log.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert "decisions" not in sa.inspect(log.engine).get_table_names()
    with log.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    inspector = sa.inspect(log.engine)
    assert {"decisions", "api_keys"} <= set(inspector.get_table_names())
    assert "review_queue" in inspector.get_view_names()


def test_migration_0003_keeps_every_decisions_inputs_up_and_down(log, fitted):
    """Rows written before 0003 (JSON inputs) read after it; rows written after it (inputs
    in a blob) get their JSON back on the way down, byte for byte (their fingerprints)."""
    from alembic import command

    pipeline, rows = fitted
    inputs = rows.iloc[:40]
    decided = _decided(inputs, pipeline.contract)
    in_review = decided.loc[decided["decision"] == "review", "ID_code"].tolist()
    with log.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
    records = input_records(inputs, pipeline.contract, False)
    before = log.rows(
        "santander", decided, records, pipeline.contract, None, source="batch", actor="before"
    )
    old = sa.Table("decisions", sa.MetaData(), autoload_with=log.engine)
    with log.engine.begin() as conn:
        conn.execute(old.insert(), [{k: v for k, v in r.items() if k in old.c} for r in before])

    # up (on first use): the view has the new columns, the old rows read as they were
    assert [d.application_id for d in log.review_queue("santander")] == in_review
    assert log.history("santander", "r1200")[0].inputs == orjson.loads(before[0]["inputs"])
    log.record_batch("santander", decided, inputs, pipeline.contract, actor="after")
    assert log.latest("santander", "r1200").inputs == orjson.loads(before[0]["inputs"])

    with log.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0002")
    assert "decision_inputs" not in sa.inspect(log.engine).get_table_names()
    with log.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT inputs, input_fingerprint FROM decisions")).all()
        queued = conn.execute(sa.text("SELECT application_id, actor FROM review_queue")).all()
    assert len(stored) == 2 * len(inputs)
    assert all(fingerprint(text) == print_ for text, print_ in stored)
    assert sorted(queued) == sorted((a, "after") for a in in_review)

    with log.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert [d.actor for d in log.history("santander", "r1200")] == ["before", "after"]


def test_an_unreachable_log_says_so_in_one_line():
    log = DecisionLog("postgresql+psycopg2://postgres@127.0.0.1:1/nowhere")
    with pytest.raises(DecisionLogUnavailableError, match=r"decision log .* is unavailable"):
        log.count()


def test_api_keys_are_scoped_hashed_and_revocable(log):
    keys = ApiKeys(log, recheck_seconds=0)
    made, token = keys.create("scoring app", parse_scopes(["santander:decide"]))
    with log.engine.connect() as conn:
        stored = str(conn.execute(sa.text("SELECT * FROM api_keys")).all())
    assert token not in stored and made.key_id in stored
    found = keys.authenticate(token)
    assert found.allows("santander", "decide") and not found.allows("santander", "read")
    assert not found.allows("loans", "decide")
    with pytest.raises(ApiKeyError):
        keys.authenticate(token[:-2] + "xx")
    keys.revoke(made.key_id)
    with pytest.raises(ApiKeyError, match="revoked"):
        keys.authenticate(token)
    with pytest.raises(ApiKeyError, match="bad scope"):
        parse_scopes(["santander:write"])
