"""A new dataset's request schema comes from its contract alone (here the loans contract:
other names, string levels, ranges, nullable pattern columns, a date column)."""

import pytest
from pydantic import ValidationError

from credit_assets.core.contract import load_contract
from credit_assets.serving.schemas import application_model, batch_model
from tests.conftest import FIXTURES

FEATURES = ["income", "age", "employment", "region", "score_bureau"]
GOOD = {
    "application_id": "a1",
    "income": 2500.0,
    "age": 40,
    "employment": "salaried",
    "region": "north",
    "score_bureau": None,
    "sex": "female",
    "applied_on": "2026-11-01",
}


@pytest.fixture(scope="module")
def loans():
    return application_model(load_contract(FIXTURES / "loans.yaml"), FEATURES, "loans")


def _fields(model, body) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}


def test_a_valid_application_reads_back_under_its_column_names(loans):
    parsed = loans.model_validate(GOOD).model_dump(by_alias=True)
    assert parsed == {**GOOD, "age": 40.0}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"age": 17}, "age"),  # below the contract's min
        ({"income": -1.0}, "income"),
        ({"employment": "pirate"}, "employment"),  # not a level
        ({"sex": "unknown"}, "sex"),
        ({"income": "2500"}, "income"),  # a string is not a number
        ({"income": float("inf")}, "income"),
        ({"repaid": "yes"}, "repaid"),  # the target is not an input
    ],
)
def test_each_broken_rule_names_its_field(loans, change, field):
    assert field in _fields(loans, {**GOOD, **change})


def test_required_and_nullable_follow_the_contract(loans):
    assert "income" in _fields(loans, {k: v for k, v in GOOD.items() if k != "income"})
    assert "income" in _fields(loans, {**GOOD, "income": None})  # not nullable
    without_optional = {k: v for k, v in GOOD.items() if k not in ("score_bureau", "applied_on")}
    loans.model_validate(without_optional)


def test_a_batch_is_bounded(loans):
    batch = batch_model(loans, 2, "loans")
    batch.model_validate({"applications": [GOOD, GOOD]})
    assert "applications" in _fields(batch, {"applications": [GOOD] * 3})
    assert "applications" in _fields(batch, {"applications": []})
