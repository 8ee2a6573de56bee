import pytest

from credit_assets.core.contract import DatasetContract, load_contract
from credit_assets.core.errors import ContractError


def test_packaged_santander_contract():
    contract = load_contract()
    assert contract.id_column == "ID_code"
    assert contract.target.column == "target"
    assert contract.target.positive_means == "default"
    columns = ["ID_code", "target", "var_0", "var_10", "var_199", "gender"]
    assert contract.resolve_features(columns) == ["var_0", "var_10", "var_199"]
    assert contract.resolve_protected(columns) == ["gender"]
    assert [r.id for r in contract.rules] == ["R01"]


def test_protected_attribute_is_never_a_feature():
    contract = load_contract()
    assert "gender" not in contract.resolve_features(["gender", "var_1"])


def test_version_changes_with_rules():
    base = load_contract()
    raw = base.model_dump(mode="json")
    raw["rules"][0]["value"] = 9.0
    changed = DatasetContract.model_validate(raw)
    assert changed.rules_version != base.rules_version
    assert changed.version != base.version


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


BASE = """
name: t
id_column: id
target: {column: y, positive_means: default}
features: [{pattern: "x[0-9]+"}]
"""


def test_rule_on_protected_attribute_is_refused(tmp_path):
    path = _write(
        tmp_path,
        BASE
        + """
protected: [{name: sex, type: categorical}]
rules: [{id: R1, column: sex, op: "==", value: F, reason: "sex"}]
""",
    )
    with pytest.raises(ContractError, match="protected attribute"):
        load_contract(path)


def test_duplicate_rule_ids_are_refused(tmp_path):
    path = _write(
        tmp_path,
        BASE
        + """
rules:
  - {id: R1, column: x1, op: "<", value: 0, reason: a}
  - {id: R1, column: x2, op: "<", value: 0, reason: b}
""",
    )
    with pytest.raises(ContractError, match="unique"):
        load_contract(path)


def test_unknown_key_names_its_location(tmp_path):
    path = _write(tmp_path, BASE + "colour: red\n")
    with pytest.raises(ContractError, match="colour"):
        load_contract(path)


def test_missing_contract_file(tmp_path):
    with pytest.raises(ContractError, match="not found"):
        load_contract(tmp_path / "nope.yaml")


def test_id_cannot_be_a_feature(tmp_path):
    path = _write(tmp_path, BASE.replace('[{pattern: "x[0-9]+"}]', "[{name: id}]"))
    with pytest.raises(ContractError, match="cannot be a feature"):
        load_contract(path)


def test_numeric_protected_attribute_is_banded(tmp_path):
    path = _write(tmp_path, BASE + "protected: [{name: age, bands: [18, 30, 45, 60]}]\n")
    age = load_contract(path).protected_spec("age")
    assert age.band_labels() == ["<18", "18-29", "30-44", "45-59", "60+"]


@pytest.mark.parametrize(
    ("protected", "message"),
    [
        ("[{name: age}]", "numeric: give its 'bands'"),
        ("[{name: age, bands: [30, 18]}]", "must be increasing"),
        ("[{name: sex, type: categorical, bands: [1, 2]}]", "only a numeric column"),
    ],
)
def test_bad_bands_are_refused(tmp_path, protected, message):
    path = _write(tmp_path, BASE + f"protected: {protected}\n")
    with pytest.raises(ContractError, match=message):
        load_contract(path)


def test_bands_only_on_protected_attributes(tmp_path):
    text = BASE.replace('[{pattern: "x[0-9]+"}]', "[{name: x1, bands: [1, 2]}]")
    with pytest.raises(ContractError, match="for protected attributes only"):
        load_contract(_write(tmp_path, text))
