"""GX suites: derived from the contract, committed as real GX 1.x suites, regenerated
without losing hand-written expectations, and run with failures said plainly."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from credit_assets.core.contract import DatasetContract, load_contract
from credit_assets.core.expectations import (
    ASSETS,
    GENERATED,
    OPTIONAL,
    PATTERN,
    ChunkedSuiteRun,
    LoadedSuite,
    SuiteError,
    derive_suite,
    generate_suites,
    load_suite,
    run_suite,
    suite_path,
)
from credit_assets.settings import DEFAULT_EXPECTATIONS_DIR

CONTRACT = load_contract()


def _apps(n=40) -> pd.DataFrame:
    frame = pd.DataFrame({"ID_code": [f"a{i}" for i in range(n)]})
    for j in range(5):
        frame[f"var_{j}"] = np.linspace(-1, 1, n)
    frame["var_81"] = np.linspace(8, 12, n)
    frame["gender"] = pd.Series(["F", "M"] * (n // 2), dtype=object)
    return frame


def _suite(asset: str, contract=CONTRACT) -> LoadedSuite:
    return load_suite(contract, asset, None)


def _hand(kind: str, column: str | None, rule: str, meta=None, **kwargs) -> dict:
    kwargs = {"column": column, **kwargs} if column else kwargs
    return {"type": kind, "kwargs": kwargs, "description": rule, "meta": meta or {}}


# What a risk team might write by hand for an applications table (the contract's own rules
# are refused by validation before the table exists, so no suite derives them).
HAND = LoadedSuite(
    {
        "name": "santander.raw_applications",
        "expectations": [
            _hand("expect_table_row_count_to_be_between", None, "no rows", min_value=1),
            _hand("expect_column_values_to_be_unique", "ID_code", "id must be unique"),
            _hand(
                "expect_column_values_to_not_be_null",
                "var_[0-9]+",
                "value is missing (column is not nullable)",
                {PATTERN: True},
            ),
            _hand(
                "expect_column_values_to_be_of_type",
                "var_[0-9]+",
                "numbers",
                {PATTERN: True},
                type_="float64",
            ),
            _hand(
                "expect_column_values_to_be_in_set",
                "gender",
                "not a level",
                {OPTIONAL: True},
                value_set=["F", "M"],
            ),
            _hand("expect_column_to_exist", "var_81", "rule R01 needs this column"),
        ],
    },
    "hand-written in the test",
)


@pytest.mark.parametrize("asset", ASSETS)
def test_committed_suites_are_gx_suites_and_up_to_date(asset):
    import great_expectations as gx

    path = DEFAULT_EXPECTATIONS_DIR / "santander" / f"{asset}.json"
    data = json.loads(path.read_text())
    suite = gx.ExpectationSuite(**data)  # a real GX 1.x serialization
    assert suite.name == f"santander.{asset}"
    assert len(suite.expectations) == len(data["expectations"])
    assert not any(
        generate_suites(CONTRACT, DEFAULT_EXPECTATIONS_DIR, [asset], write=False).values()
    )


def test_rules_validation_refuses_are_not_derived_again():
    """Validation refuses a raw file before it is written; the suites check the rest once."""
    for asset in ("raw_history", "raw_applications", "raw_outcomes"):
        assert derive_suite(CONTRACT, asset)["expectations"] == []
    training = {e["kwargs"].get("column") for e in _suite("training_data").data["expectations"]}
    assert training == {None, "ID_code", "target", "split"}  # no feature value checked again
    features = {e["kwargs"].get("column") for e in _suite("features").data["expectations"]}
    assert "var_[0-9]+" in features  # the built float32 table is checked for what it adds


def test_empty_suite_runs_without_gx():
    import subprocess
    import sys

    code = (
        "import sys, pandas as pd\n"
        "from credit_assets.core.contract import load_contract\n"
        "from credit_assets.core.expectations import load_suite, run_suite\n"
        "from credit_assets.settings import DEFAULT_EXPECTATIONS_DIR as root\n"
        "suite = load_suite(load_contract(), 'raw_history', root)\n"
        "report = run_suite(pd.DataFrame({'ID_code': ['a']}), suite, 'ID_code')\n"
        "assert report.failures == () and report.evaluated == 0\n"
        "print('great_expectations' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_regenerate_keeps_hand_written_and_replaces_generated(tmp_path):
    generate_suites(CONTRACT, tmp_path)
    path = suite_path(tmp_path, CONTRACT, "features")
    data = json.loads(path.read_text())
    hand = {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "var_0", "min_value": -50, "max_value": 50},
        "meta": {"why": "domain knowledge"},
        "severity": "warning",
    }
    data["expectations"].append(hand)
    path.write_text(json.dumps(data))
    # the contract changes: var_0 gets a range of its own
    raw = CONTRACT.model_dump(mode="json")
    raw["features"] = [
        {"name": "var_0", "type": "numeric", "min": -10, "max": 10},
        *raw["features"],
    ]
    changed = DatasetContract.model_validate(raw)
    assert generate_suites(changed, tmp_path)[path]
    again = json.loads(path.read_text())["expectations"]
    generated = [e for e in again if e["meta"].get(GENERATED)]
    assert generated == derive_suite(changed, "features")["expectations"]
    kept = [e for e in again if not e["meta"].get(GENERATED)]
    assert len(kept) == 1 and kept[0]["kwargs"]["max_value"] == 50
    assert kept[0]["severity"] == "warning"
    assert any(
        e["kwargs"].get("column") == "var_0" and e["type"] == "expect_column_to_exist"
        for e in generated
    )
    assert not any(generate_suites(changed, tmp_path).values())  # idempotent


def test_another_contract_gets_its_own_folder_and_in_memory_suites(tmp_path):
    from tests.conftest import FIXTURES

    loans = load_contract(FIXTURES / "loans.yaml")
    loaded = load_suite(loans, "features", DEFAULT_EXPECTATIONS_DIR)
    assert loaded.source == "derived from contract 'loans' in memory"
    columns = {e["kwargs"].get("column") for e in loaded.data["expectations"]}
    assert {"application_id", "repaid", "income", "age", "score_[a-z]+", "employment"} <= columns
    written = generate_suites(loans, tmp_path)
    assert {p.parent.name for p in written} == {"loans"}
    assert load_suite(loans, "features", tmp_path).source.endswith("loans/features.json")


def test_suite_file_for_another_contract_is_refused(tmp_path):
    generate_suites(CONTRACT, tmp_path, ["decisions"])
    path = suite_path(tmp_path, CONTRACT, "decisions")
    data = json.loads(path.read_text())
    data["name"] = "other.decisions"
    path.write_text(json.dumps(data))
    with pytest.raises(SuiteError, match=r"expected 'santander\.decisions'"):
        load_suite(CONTRACT, "decisions", tmp_path)
    path.write_text('{"name": "santander.decisions", "expectations": [{"type": "no_such"}]}')
    with pytest.raises(SuiteError, match="not a valid GX suite"):
        load_suite(CONTRACT, "decisions", tmp_path)


def test_clean_frame_passes_and_patterns_expand():
    report = run_suite(_apps(), HAND, "ID_code")
    assert report.failures == ()
    # 6 var_* x (not null, float64) + row count + unique id + gender level + var_81 exists
    assert report.evaluated == 6 * 2 + 1 + 1 + 1 + 1


def test_validation_does_not_hash_the_table(monkeypatch):
    """GX would fingerprint the whole batch (a third of a large suite's time) for markers
    nothing reads; the validation context turns that off."""
    hashed = []
    original = pd.util.hash_pandas_object
    monkeypatch.setattr(
        pd.util, "hash_pandas_object", lambda *a, **k: hashed.append(1) or original(*a, **k)
    )
    frame = _apps()
    frame.loc[3, "var_2"] = np.nan  # a failure, so the detailed pass runs too
    assert run_suite(frame, HAND, "ID_code").failures
    assert hashed == []


def _wide(n=50, columns=40) -> pd.DataFrame:
    frame = pd.DataFrame({"ID_code": [f"a{i}" for i in range(n)]})
    for j in range(columns):
        frame[f"var_{j}"] = np.linspace(-1, 1, n)
    frame["var_81"] = np.linspace(8, 12, n)
    return frame


MOSTLY = LoadedSuite(
    {
        "name": "santander.raw_applications",
        "expectations": [
            *HAND.data["expectations"],
            _hand(
                "expect_column_values_to_be_between",
                "var_[0-9]+",
                "in range for most rows",
                {PATTERN: True},
                min_value=-1,
                max_value=20,
                mostly=0.9,
            ),
        ],
    },
    "hand-written in the test",
)


def _faulty(case: str) -> pd.DataFrame:
    frame = _wide()
    if case == "nulls":
        frame.loc[[3, 9], "var_2"] = np.nan
        frame.loc[4, "var_30"] = np.nan
    elif case == "types":
        frame = frame.astype({"var_1": "float32", "var_7": "int64"})
    elif case == "mostly":  # 20% of one column out of range: 0.5% of the stacked values
        frame.loc[:9, "var_5"] = -5.0
    return frame


@pytest.mark.parametrize("case", ["clean", "nulls", "types", "mostly"])
def test_stacked_pattern_columns_report_what_column_by_column_does(case, monkeypatch):
    """The quick pass checks a pattern's columns stacked as one column; the report is the one
    the expectations give column by column (``mostly`` is judged per column: not stacked)."""
    from credit_assets.core import expectations as ex

    stacked = run_suite(_faulty(case), MOSTLY, "ID_code")
    monkeypatch.setattr(ex, "_stack_key", lambda frame, e: None)
    alone = run_suite(_faulty(case), MOSTLY, "ID_code")
    assert stacked.failures == alone.failures
    assert stacked.evaluated == alone.evaluated == 41 * 3 + 3  # gender: optional, absent
    assert bool(stacked.failures) == (case != "clean")
    if case == "mostly":
        assert [f.column for f in stacked.failures] == ["var_5"]


def test_a_clean_table_runs_each_pattern_as_one_expectation(monkeypatch):
    from credit_assets.core import expectations as ex

    seen = []
    original = ex._validate
    monkeypatch.setattr(
        ex, "_validate", lambda frame, es, fmt: seen.append(len(es)) or original(frame, es, fmt)
    )
    assert run_suite(_wide(), HAND, "ID_code").failures == ()
    # row count, unique id, var_81 exists (gender is absent and optional); then one stacked
    # not-null and one stacked float64 type for the 41 var_* columns
    assert seen == [3, 1, 1]


def test_failures_name_column_count_share_and_sample_ids():
    frame = _apps()
    frame.loc[[3, 9], "var_2"] = np.nan
    frame.loc[5, "ID_code"] = "a4"
    frame.loc[7, "gender"] = "X"
    report = run_suite(frame, HAND, "ID_code")
    by_column = {f.column: f for f in report.failures}
    assert set(by_column) == {"var_2", "ID_code", "gender"}
    nulls = by_column["var_2"]
    assert (nulls.bad_rows, nulls.bad_percent, nulls.sample_ids) == (2, 5.0, ("a3", "a9"))
    assert nulls.rule == "value is missing (column is not nullable)"
    assert by_column["ID_code"].sample_ids == ("a4",)
    assert by_column["gender"].sample_ids == ("a7",)
    assert all(f.blocking for f in report.failures)
    message = report.message("apps.csv")
    assert message.startswith("apps.csv: column ")
    assert "column 'var_2': value is missing (column is not nullable) " in message
    assert "2 rows (5.00%), e.g. ID_code 'a3', 'a9'" in message
    table = report.markdown()
    assert "| critical | var_2 |" in table


def test_missing_columns_optional_columns_and_type():
    frame = _apps().drop(columns=["gender", "var_81"]).astype({"var_1": "float32"})
    report = run_suite(frame, HAND, "ID_code")
    by_column = {f.column: f for f in report.failures}
    assert set(by_column) == {"var_81", "var_1"}  # gender is optional: skipped
    assert by_column["var_81"].rule == "rule R01 needs this column"
    assert by_column["var_1"].observed == "float32"
    no_vars = frame[["ID_code"]]
    report = run_suite(no_vars, HAND, "ID_code")
    assert any("no column matches /var_[0-9]+/" in f.rule for f in report.failures)


def test_warning_severity_does_not_block():
    data = {**HAND.data}
    data["expectations"] = [
        *data["expectations"],
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"max_value": 10},
            "meta": {},
            "severity": "warning",
        },
    ]
    report = run_suite(_apps(), LoadedSuite(data, "test"), "ID_code")
    assert report.errors == [] and len(report.warnings) == 1
    assert report.warnings[0].observed == "40"
    assert "expect_table_row_count_to_be_between(max_value=10)" in report.warnings[0].rule


def test_training_and_decision_suites():
    table = pd.DataFrame(
        {
            "ID_code": ["a", "b", "c"],
            "target": np.array([0, 1, 2], "int8"),
            "split": ["train", "validation", "holdout"],
        }
    )
    report = run_suite(table, _suite("training_data"), "ID_code")
    assert [(f.column, f.sample_ids) for f in report.errors] == [("target", ("c",))]
    one_split = table.assign(target=np.array([0, 1, 0], "int8"), split="train")
    report = run_suite(one_split, _suite("training_data"), "ID_code")
    assert [f.rule for f in report.errors] == ["train, validation and holdout all have rows"]
    decided = pd.DataFrame(
        {
            "ID_code": ["a", "b"],
            "decision": ["approve", "maybe"],
            "score": [0.2, 1.5],
            "rule_id": [None, None],
            "model_version": ["1", "1"],
            "thresholds_version": ["t", "t"],
            "rules_version": ["r", "r"],
        }
    )
    report = run_suite(decided, _suite("decisions"), "ID_code")
    assert {f.column for f in report.errors} == {"decision", "score"}


@pytest.mark.parametrize("asset", ["decisions", "training_data"])
def test_a_suite_run_chunk_by_chunk_reports_what_the_whole_table_gives(asset):
    n = 23
    table = pd.DataFrame(
        {
            "ID_code": [f"a{i}" for i in range(n)],
            "target": np.array([0, 1] * 11 + [3], "int8"),
            "split": ["train"] * n,  # one split: an aggregate over every row fails
            "decision": ["approve", "review", "maybe"] * 7 + ["approve", None],
            "score": np.linspace(-0.5, 1.5, n),  # out of range in the first and last chunks
            "rule_id": [None] * n,
            "model_version": ["1"] * n,
            "thresholds_version": ["t"] * n,
            "rules_version": ["r"] * n,
        }
    )
    table.loc[[4, 19], "ID_code"] = "dup"  # repeated across chunks, unique within each
    suite = _suite(asset)
    whole = run_suite(table, suite, "ID_code")
    run = ChunkedSuiteRun(suite, "ID_code")
    for start in range(0, n, 5):
        run.add(table.iloc[start : start + 5].reset_index(drop=True))
    chunked = run.report()
    assert len(whole.failures) >= 3
    assert chunked.failures == whole.failures
    assert (chunked.rows, chunked.evaluated) == (whole.rows, whole.evaluated)
    assert "id must be unique" in {f.rule for f in chunked.failures}


def test_an_empty_table_in_one_chunk_fails_the_row_count():
    run = ChunkedSuiteRun(_suite("decisions"), "ID_code")
    run.add(pd.DataFrame({"ID_code": pd.Series([], dtype=object)}))
    assert "no decisions" in {f.rule for f in run.report().errors}


def test_warm_up_builds_the_context_once_in_the_background():
    """A step starts GX's import in a thread; validation waits for it and gets its context."""
    probe = """
import sys, threading
from credit_assets.core import expectations as ex
assert "great_expectations" not in sys.modules
ex.warm_up()
ex.warm_up()  # once per process
assert [t.name for t in threading.enumerate()].count("gx-warm-up") <= 1
context = ex.validation_context()
assert not ex._warming.is_alive() and context is ex.validation_context()
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
