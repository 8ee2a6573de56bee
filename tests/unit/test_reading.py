"""A file is read as its contract says, and every problem in it is refused at once, with the
physical line and the column of each."""

import numpy as np
import pandas as pd
import pytest

from credit_assets.core.contract import DatasetContract, load_contract
from credit_assets.core.dataset import check_history_size, iter_file_chunks, load_file
from credit_assets.core.errors import ContractError, DataValidationError
from credit_assets.core.io import write_csv_chunks_atomic
from credit_assets.core.validation import FileKind
from tests.conftest import FIXTURES
from tests.unit.test_validation import CONTRACT, _apps

APPS = FileKind.APPLICATIONS


def _refusal(path, kind=APPS, contract=CONTRACT) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        load_file(path, contract, kind)
    return info.value


def _csv(tmp_path, frame: pd.DataFrame, name="apps.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_ids_and_categories_are_read_as_text(tmp_path):
    frame = _apps().assign(ID_code=["0000002", "0000010", "7", "0.50"])
    out = load_file(_csv(tmp_path, frame), CONTRACT, APPS)
    assert out["ID_code"].tolist() == ["0000002", "0000010", "7", "0.50"]
    assert out["var_0"].dtype == "float64"


@pytest.mark.parametrize("value", ["2", "1.0", "0.0", "yes", "no", "true"])
def test_target_outside_the_contract_classes_is_refused(tmp_path, value):
    outcomes = pd.DataFrame({"ID_code": ["a", "b", "c"], "target": ["0", value, "1"]})
    err = _refusal(_csv(tmp_path, outcomes, "o.csv"), FileKind.OUTCOMES)
    assert str(err) == (
        f"{tmp_path / 'o.csv'}: column 'target': line 3: target must be '1' or '0' "
        f"(the contract's classes) (e.g. {value!r})"
    )


def test_declared_classes_of_another_contract(tmp_path):
    loans = load_contract(FIXTURES / "loans.yaml")
    path = tmp_path / "o.csv"
    path.write_text("application_id,repaid\nn-1,yes\nn-2,no\nn-3,1\n")
    err = _refusal(path, FileKind.OUTCOMES, loans)
    assert (err.lines, err.detail) == ([4], "e.g. '1'")
    path.write_text("application_id,repaid\nn-1,yes\nn-2,no\n")
    assert load_file(path, loans, FileKind.OUTCOMES)["repaid"].tolist() == [1, 0]


def test_a_contract_with_a_text_positive_class_names_the_other(tmp_path):
    raw = CONTRACT.model_dump(mode="json")
    raw["target"] = {"column": "target", "positive_class": "good", "positive_means": "approve"}
    with pytest.raises(ValueError, match="negative_class is needed"):
        DatasetContract.model_validate(raw)
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: t\nid_column: id\ntarget: {column: y, positive_class: 1, negative_class: 1,"
        " positive_means: default}\nfeatures: [{pattern: 'x[0-9]+'}]\n"
    )
    with pytest.raises(ContractError, match="must differ"):
        load_contract(path)


def test_true_false_in_a_numeric_column_is_refused(tmp_path):
    frame = _apps().astype({"var_3": object})
    frame.loc[1, "var_3"], frame.loc[2, "var_3"] = "true", "False"
    err = _refusal(_csv(tmp_path, frame))
    assert (err.column, err.lines, err.rule) == ("var_3", [3, 4], "value is not a number")
    assert len(err.problems) == 1  # not also "missing"


def test_booleans_in_a_frame_are_refused():
    """Rows that do not come from a file (a request, say) are held to the same rule."""
    from credit_assets.core.validation import validate_frame

    frame = _apps().assign(var_3=[True, False, True, False])
    with pytest.raises(DataValidationError, match="'var_3': line 2, 3, 4, 5: value is true/false"):
        validate_frame(frame, CONTRACT, APPS, "rows")
    mixed = _apps().astype({"var_4": object})
    mixed.loc[2, "var_4"] = True
    with pytest.raises(DataValidationError, match="'var_4': line 4: value is true/false"):
        validate_frame(mixed, CONTRACT, APPS, "rows")


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path):
    frame = _apps(10).astype({"var_7": object, "gender": object})
    frame.loc[8, "var_7"] = "oops"
    text = frame.to_csv(index=False).splitlines()
    # three blank lines under the header, one before row 6, a cell that spans two lines
    text = [text[0], "", "", "", *text[1:6], "", *text[6:]]
    path = tmp_path / "apps.csv"
    path.write_text("\n".join(text) + "\n")
    assert _refusal(path).lines == [14]
    frame.loc[2, "ID_code"] = "two\nlines"
    path.write_text("\n".join(["", *frame.to_csv(index=False).splitlines()]) + "\n")
    assert _refusal(path).lines == [12]


def test_a_repeated_column_is_named(tmp_path):
    path = tmp_path / "apps.csv"
    text = _apps().to_csv(index=False).replace("var_6,", "var_5,", 1)
    path.write_text(text)
    err = _refusal(path)
    assert str(err) == f"{path}: column 'var_5': line 1: column appears twice"


def test_an_oversized_cell_is_refused_with_line_and_column(tmp_path):
    frame = _apps(6).astype({"gender": object})
    frame.loc[4, "gender"] = "M" * 5_000_000
    err = _refusal(_csv(tmp_path, frame))
    assert str(err).endswith("column 'gender': line 6: cell is longer than 64 KiB")
    frame.loc[4, "gender"] = "M" * 100_000  # within Arrow's block: caught after the read
    err = _refusal(_csv(tmp_path, frame))
    assert str(err).endswith("column 'gender': line 6: cell is longer than 64 KiB")


def test_an_oversized_number_cell_is_refused_as_oversized_not_as_infinite(tmp_path):
    frame = _apps(6).astype({"var_3": object})
    frame.loc[2, "var_3"] = "inf"  # short: infinite, not oversized
    assert "'var_3': line 4: value is infinite" in str(_refusal(_csv(tmp_path, frame)))
    frame.loc[4, "var_3"] = "9" * 100_000  # parses as a number too large: infinite
    err = _refusal(_csv(tmp_path, frame))
    assert str(err).endswith("column 'var_3': line 6: cell is longer than 64 KiB")
    chunks = iter_file_chunks(_csv(tmp_path, frame), CONTRACT, APPS, chunk_rows=2)
    with pytest.raises(DataValidationError, match="'var_3': line 6: cell is longer than 64 KiB"):
        list(chunks)
    frame.loc[4, "var_3"] = "0." + "0" * 100_000 + "1"  # parses as a finite number
    frame.loc[2, "var_3"] = "0.5"
    err = _refusal(_csv(tmp_path, frame))
    assert str(err).endswith("column 'var_3': line 6: cell is longer than 64 KiB")
    chunks = iter_file_chunks(_csv(tmp_path, frame), CONTRACT, APPS, chunk_rows=2)
    with pytest.raises(DataValidationError, match="'var_3': line 6: cell is longer than 64 KiB"):
        list(chunks)


def test_every_problem_is_listed_and_the_last_line_sums_them_up(tmp_path):
    frame = _apps(12).astype({"var_10": object, "var_20": object})
    frame.loc[4, "var_10"] = "oops"
    frame.loc[[5, 6, 7, 8, 9, 10], "var_20"] = "x"
    frame.loc[7, "ID_code"] = frame.loc[2, "ID_code"]
    frame.loc[3, "gender"] = "Q"
    path = _csv(tmp_path, frame.assign(comment="c"))
    err = _refusal(path)
    assert len(err.problems) == 5
    lines = str(err).splitlines()
    assert lines == [
        f"{path}: column 'comment': column is not in the dataset contract",
        f"{path}: column 'ID_code': line 9: id must be unique (e.g. 'a2')",
        f"{path}: column 'var_10': line 6: value is not a number (e.g. 'oops')",
        f"{path}: column 'var_20': line 7, 8, 9, 10, 11 (+1 more): value is not a number "
        "(e.g. 'x')",
        f"{path}: column 'gender': line 5: value is not one of the levels ['F', 'M'] (e.g. 'Q')",
        f"{path}: 10 problems: column is not in the dataset contract (column 'comment'); "
        "id must be unique (column 'ID_code', line 9); value is not a number (column 'var_10', "
        "line 6, and 6 more); value is not one of the levels ['F', 'M'] (column 'gender', line 5)",
    ]


def test_chunks_are_the_file_validated(tmp_path):
    frame = _apps(10).assign(ID_code=[f"{i:04d}" for i in range(10)])
    path = _csv(tmp_path, frame)
    whole = load_file(path, CONTRACT, APPS)
    chunks = list(iter_file_chunks(path, CONTRACT, APPS, chunk_rows=4))
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


def test_chunks_stop_at_a_problem_and_the_error_lists_the_whole_file(tmp_path):
    """Over 4 MB, so the bad cell is in a later block of the streaming reader; an id repeated
    from the first chunk is found in the last."""
    rows = 20_000
    frame = _apps(rows).astype({"var_10": object})
    frame["ID_code"] = [f"{i:07d}" for i in range(rows)]
    frame.loc[rows - 10, "var_10"] = "oops"
    frame.loc[rows - 1, "ID_code"] = "0000003"
    path = _csv(tmp_path, frame)
    yielded = []
    with pytest.raises(DataValidationError) as info:
        for chunk in iter_file_chunks(path, CONTRACT, APPS, chunk_rows=5_000):
            yielded.append(len(chunk))
    assert yielded and sum(yielded) < rows - 10  # some chunks came before the bad one
    assert str(info.value).splitlines() == [
        f"{path}: column 'var_10': line {rows - 8}: value is not a number (e.g. 'oops')",
        f"{path}: column 'ID_code': line {rows + 1}: id must be unique (e.g. '0000003')",
        f"{path}: 2 problems: value is not a number (column 'var_10', line {rows - 8}); "
        f"id must be unique (column 'ID_code', line {rows + 1})",
    ]


def test_a_header_without_rows_is_refused_when_streaming(tmp_path):
    path = tmp_path / "apps.csv"
    path.write_text(",".join(_apps().columns) + "\n")
    with pytest.raises(DataValidationError, match="file has a header but no rows"):
        list(iter_file_chunks(path, CONTRACT, APPS))


def test_a_history_too_small_to_train_on_is_refused():
    contract = load_contract()
    history = pd.DataFrame({"ID_code": [f"t{i}" for i in range(5)], "target": [0, 1, 0, 0, 0]})
    with pytest.raises(DataValidationError) as info:
        check_history_size(history, contract, "data/history")
    assert str(info.value).splitlines()[-1] == "data/history: 3 problems: " + "; ".join(
        [
            "history has 5 rows; the contract's min_history_rows is 200",
            "history has 1 rows of class '1'; the contract's min_rows_per_class is 20 "
            "(column 'target')",
            "history has 4 rows of class '0'; the contract's min_rows_per_class is 20 "
            "(column 'target')",
        ]
    )
    enough = pd.DataFrame({"ID_code": range(200), "target": np.repeat([0, 1], [180, 20])})
    check_history_size(enough, contract, "data/history")


def test_chunked_csv_appears_only_when_complete(tmp_path):
    target = tmp_path / "out.csv"

    def frames(fail: bool):
        yield pd.DataFrame({"id": ["001"], "reason": [None]})
        if fail:
            raise DataValidationError("in.csv", "value is not a number")
        yield pd.DataFrame({"id": ["002"], "reason": ["text"]})

    with pytest.raises(DataValidationError):
        write_csv_chunks_atomic(frames(fail=True), target)
    assert list(tmp_path.iterdir()) == []
    assert write_csv_chunks_atomic(frames(fail=False), target) == 2
    assert target.read_text() == '"id","reason"\n"001",\n"002","text"\n'
