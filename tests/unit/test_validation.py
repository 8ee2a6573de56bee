import numpy as np
import pandas as pd
import pytest

from credit_assets.core.contract import load_contract
from credit_assets.core.errors import DataValidationError
from credit_assets.core.reading import read_csv
from credit_assets.core.validation import FileKind, validate_frame

CONTRACT = load_contract()


def _apps(n=4):
    frame = pd.DataFrame({"ID_code": [f"a{i}" for i in range(n)]})
    for j in range(90):
        frame[f"var_{j}"] = np.linspace(9, 10, n)
    frame["gender"] = ["F", "M"] * (n // 2)
    return frame


def _error(frame, kind=FileKind.APPLICATIONS) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        validate_frame(frame, CONTRACT, kind, "apps.csv")
    return info.value


def test_valid_applications_pass():
    out = validate_frame(_apps(), CONTRACT, FileKind.APPLICATIONS, "apps.csv")
    assert out["var_0"].dtype == "float64"


def test_target_in_applications_is_leakage():
    err = _error(_apps().assign(target=0))
    assert err.column == "target" and "leakage" in str(err)


def test_text_in_numeric_column_names_line_and_column():
    frame = _apps().astype({"var_5": object})
    frame.loc[2, "var_5"] = "abc"
    err = _error(frame)
    assert (err.column, err.lines) == ("var_5", [4])
    assert str(err).startswith("apps.csv: column 'var_5': line 4: value is not a number")


def test_duplicate_ids_name_the_repeats():
    frame = _apps()
    frame.loc[3, "ID_code"] = "a1"
    err = _error(frame)
    assert err.column == "ID_code" and err.lines == [5] and "unique" in err.rule


def test_unknown_column_and_missing_rule_column():
    assert _error(_apps().assign(surprise=1)).column == "surprise"
    assert _error(_apps().drop(columns=["var_81"])).column == "var_81"


def test_nan_and_inf_are_refused():
    frame = _apps()
    frame.loc[0, "var_3"] = np.inf
    assert "infinite" in _error(frame).rule
    frame = _apps()
    frame.loc[1, "var_3"] = np.nan
    assert "missing" in _error(frame).rule


def test_unknown_protected_level():
    frame = _apps()
    frame.loc[0, "gender"] = "X"
    assert _error(frame).column == "gender"


def test_outcomes_need_binary_target():
    frame = pd.DataFrame({"ID_code": ["a", "b", "c"], "target": [0, 1, 2]})
    err = _error(frame, FileKind.OUTCOMES)
    assert err.rule == "target must be '1' or '0' (the contract's classes)" and err.lines == [4]
    ok = validate_frame(frame.iloc[:2], CONTRACT, FileKind.OUTCOMES, "o.csv")
    assert ok["target"].tolist() == [0, 1]


def test_header_only_and_empty_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataValidationError, match=r"empty\.csv: file is empty"):
        read_csv(empty, CONTRACT)
    header = tmp_path / "header.csv"
    header.write_text("ID_code,var_0\n")
    with pytest.raises(DataValidationError, match="no rows"):
        validate_frame(read_csv(header, CONTRACT), CONTRACT, FileKind.APPLICATIONS, str(header))


def test_unparseable_csv_names_the_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(
        DataValidationError, match=r"bad\.csv: line 3: row has 3 fields but the header has 2"
    ):
        read_csv(bad, CONTRACT)


def test_target_is_normalized_to_positive_indicator(tmp_path):
    from credit_assets.core.contract import DatasetContract

    raw = CONTRACT.model_dump(mode="json")
    raw["target"] = {
        "column": "target",
        "positive_class": "yes",
        "negative_class": "no",
        "positive_means": "approve",
    }
    contract = DatasetContract.model_validate(raw)
    frame = pd.DataFrame({"ID_code": ["a", "b"], "target": ["no", "yes"]})
    out = validate_frame(frame, contract, FileKind.OUTCOMES, "o.csv")
    assert out["target"].tolist() == [0, 1]
