"""Fairness across the decision funnel: figures, the promotion gate, the report, proxies."""

import re

import numpy as np
import pandas as pd
import pytest

from credit_assets.core.contract import DatasetContract, load_contract
from credit_assets.core.fairness import (
    AUTOMATIC,
    BAD,
    BREACH,
    DEMOGRAPHIC_PARITY_DIFFERENCE,
    EQUAL_OPPORTUNITY_DIFFERENCE,
    EQUALIZED_ODDS_DIFFERENCE,
    FINAL,
    FINAL_DECISION,
    REJECT_SHARE_RATIO,
    SELECTION_RATE_RATIO,
    assess,
    assess_holdout,
    proxy_strengths,
    with_outcomes,
)
from credit_assets.core.gates import (
    FAIRNESS_EQUALIZED_ODDS,
    FAIRNESS_SELECTION_RATE,
    GateConfig,
    evaluate_gates,
    evaluate_model,
    failures,
)
from credit_assets.core.report import ReportInputs, build_report
from credit_assets.core.rules import RULE_ID
from credit_assets.core.synthetic import SyntheticSpec, draw, make_shapes
from credit_assets.core.thresholds import choose_thresholds
from tests.conftest import FIXTURES

SANTANDER = load_contract()


def _trained(bias: float):
    """A model trained on generated data (with or without injected bias) and judged on its
    holdout, as champion_model judges a challenger."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    spec = SyntheticSpec(n_features=60, signal=0.12, bias=bias, seed=3)
    rng = np.random.default_rng(5)
    sample = draw(8000, make_shapes(spec), spec, rng)
    features = [f"var_{j}" for j in range(spec.n_features)]
    frame = pd.DataFrame(sample.x, columns=features)
    frame["gender"] = sample.gender if bias else rng.choice(["F", "M"], len(frame))
    bad = sample.y.astype(bool)
    train, validation, holdout = np.split(np.arange(len(frame)), [4800, 6400])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(frame.loc[train, features], bad[train])  # gender never reaches the model
    risk = model.predict_proba(frame[features])[:, 1]
    thresholds = choose_thresholds(risk[validation], bad[validation], 0.9)
    rows = frame.loc[holdout].reset_index(drop=True)
    report = assess_holdout(rows, risk[holdout], bad[holdout], thresholds, SANTANDER)
    evaluation = evaluate_model(risk[holdout], bad[holdout], thresholds, fairness=report)
    gates = evaluate_gates(evaluation, None, GateConfig())
    return {r.gate: r for r in gates}, report, evaluation, thresholds, risk[holdout], bad[holdout]


@pytest.fixture(scope="module")
def unbiased():
    return _trained(bias=0.0)


@pytest.fixture(scope="module")
def biased():
    return _trained(bias=0.2)


def test_unbiased_data_passes_the_fairness_gates(unbiased):
    gates = unbiased[0]
    for gate in (FAIRNESS_SELECTION_RATE, FAIRNESS_EQUALIZED_ODDS):
        assert gates[gate].applied and gates[gate].passed, gates[gate].message


def test_biased_data_fails_naming_attribute_metric_groups_and_values(biased):
    gates = biased[0]
    assert not gates[FAIRNESS_SELECTION_RATE].passed
    message = gates[FAIRNESS_SELECTION_RATE].message
    found = re.search(
        r"gender, automatic stage: selection_rate_ratio (\d\.\d+) .*"
        r"approval rate F (\d\.\d+) \(n=[\d,]+\) vs M (\d\.\d+)",
        message,
    )
    assert found, message
    ratio, female, male = (float(x) for x in found.groups())
    assert female < 0.8 * male and ratio < 0.8
    assert message in failures(list(gates.values()))


def test_the_injected_proxy_tops_the_reports_proxy_list(biased):
    gates, report, evaluation, thresholds, risk, bad = biased
    page = build_report(
        ReportInputs(
            model_name="credit-toy",
            version="4",
            run_id="run",
            bad=bad,
            challenger_risk=risk,
            challenger=evaluation,
            thresholds=thresholds,
            importance=pd.Series({"var_12": 3.0}),
            gates=list(gates.values()),
            promoted=False,
            fairness=report,
        )
    )
    proxies = page.markdown.split("### Proxies for a protected attribute (strongest first)")[1]
    first = proxies.strip().splitlines()[2]
    assert first.startswith("| var_12 | gender |"), proxies
    assert "| automatic | gender | selection_rate_ratio |" in page.markdown
    assert "BREACH" in page.markdown
    assert "<h2>Fairness</h2>" in page.html and 'alt="approval rate by group"' in page.html


def _decisions(groups: dict[str, int], approve: dict[str, float], seed: int = 0) -> pd.DataFrame:
    """Automatic decisions for groups of given sizes and approval rates (exactly)."""
    rng = np.random.default_rng(seed)
    parts = []
    for group, n in groups.items():
        approved = np.arange(n) < round(approve[group] * n)
        parts.append(
            pd.DataFrame(
                {
                    "gender": group,
                    "decision": np.where(approved, "approve", "reject"),
                    "score": np.where(approved, 0.05, 0.5),
                }
            )
        )
    return pd.concat(parts, ignore_index=True).sample(frac=1, random_state=rng.integers(1 << 31))


def test_small_groups_get_intervals_and_do_not_fail():
    contract = DatasetContract.model_validate(
        {
            **SANTANDER.model_dump(mode="json"),
            "protected": [{"name": "gender", "type": "categorical"}],
        }
    )
    # X is tiny and approved far less often; Y and Z are large enough but their gap is noise
    decisions = _decisions({"X": 12, "Y": 60, "Z": 60}, {"X": 0.25, "Y": 0.5, "Z": 0.6})
    report = assess(decisions, contract)
    table = report.groups[report.groups["stage"] == AUTOMATIC].set_index("group")
    assert table.loc["X", "small"] and not table.loc["Y", "small"]
    low, high = table.loc["X", ["approval_rate_low", "approval_rate_high"]]
    assert low < 0.25 < high and high - low > 0.3  # wide, shown rather than alarming
    ratio = report.worst(SELECTION_RATE_RATIO)
    assert ratio.groups == ("Y", "Z") and ratio.value == pytest.approx(0.5 / 0.6)
    assert not ratio.breaches(0.9)  # 0.83 < 0.9, but not beyond the intervals
    assert report.breaches(0.8, 0.1) == []
    # the same rates on large groups are a clear breach
    large = assess(_decisions({"Y": 3000, "Z": 3000}, {"Y": 0.5, "Z": 0.6}), contract)
    assert large.worst(SELECTION_RATE_RATIO).breaches(0.9)


def test_a_numeric_protected_attribute_gets_banded_figures(tmp_path):
    path = tmp_path / "aged.yaml"
    path.write_text(
        """
name: aged
id_column: id
target: {column: y, positive_means: default}
features: [{name: income}, {name: region, type: categorical}]
protected:
  - {name: gender, type: categorical, levels: [F, M]}
  - {name: age, bands: [18, 30, 45, 60]}
"""
    )
    contract = load_contract(path)
    rng = np.random.default_rng(0)
    n = 6000
    age = rng.integers(18, 80, n)
    older = age >= 60
    frame = pd.DataFrame(
        {
            "income": rng.normal(size=n),
            # the region gives away age: a categorical proxy
            "region": np.where(older ^ (rng.random(n) < 0.1), "north", "south"),
            "gender": rng.choice(["F", "M"], n),
            "age": age,
        }
    )
    approved = rng.random(n) < np.where(older, 0.35, 0.7)
    frame["decision"] = np.where(approved, "approve", "reject")
    frame["score"] = np.where(approved, 0.05, 0.5)
    report = assess(frame, contract)
    automatic = report.groups[report.groups["stage"] == AUTOMATIC]
    ages = automatic.loc[automatic["attribute"] == "age", "group"].tolist()
    assert ages == ["18-29", "30-44", "45-59", "60+"]  # low to high
    crossed = set(automatic.loc[automatic["attribute"] == "gender×age", "group"])
    assert {"F×60+", "M×30-44"} <= crossed
    worst = report.worst(SELECTION_RATE_RATIO)
    assert worst.attribute in ("age", "gender×age") and worst.groups[0].endswith("60+")
    assert worst.breaches(0.8)
    top = proxy_strengths(frame, contract).iloc[0]
    assert (top["feature"], top["attribute"]) == ("region", "age") and top["auc"] > 0.8


def test_rules_and_reviews_are_stages_of_the_funnel():
    contract = SANTANDER
    decisions = _decisions({"F": 2000, "M": 2000}, {"F": 0.6, "M": 0.6})
    rng = np.random.default_rng(1)
    female = (decisions["gender"] == "F").to_numpy()
    # R01 rejects women four times as often; reviewers approve men far more often
    ruled = rng.random(len(decisions)) < np.where(female, 0.08, 0.02)
    decisions.loc[ruled, "decision"] = "rule_reject"
    decisions[RULE_ID] = np.where(ruled, "R01", None)
    review = ~ruled & (rng.random(len(decisions)) < 0.3)
    decisions.loc[review, "decision"] = "review"
    reviewed = np.where(
        rng.random(len(decisions)) < np.where(female, 0.2, 0.9), "approve", "reject"
    )
    decisions[FINAL_DECISION] = np.where(review, reviewed, None)
    decisions[BAD] = rng.random(len(decisions)) < 0.1
    report = assess(decisions, contract)
    flagged = {(d.metric, d.rule, d.attribute) for d in report.breaches(0.8, 0.1)}
    assert (REJECT_SHARE_RATIO, "R01", "gender") in flagged
    rule = next(d for d in report.disparities if d.rule == "R01")
    assert rule.groups == ("F", "M") and rule.value > 2.5
    assert (SELECTION_RATE_RATIO, None, "gender") in flagged
    final = report.worst(EQUALIZED_ODDS_DIFFERENCE, stage=FINAL)
    assert final.breaches(0.1) and final.groups == ("F", "M")
    assert not report.worst(DEMOGRAPHIC_PARITY_DIFFERENCE, stage=AUTOMATIC).breaches(0.1)
    # what a daily check shows: every stage's figures with their bound and verdict
    breached = {row[:3] for row in report.table(0.8, 0.1) if row[6] == BREACH}
    assert ("rule R01", "gender", REJECT_SHARE_RATIO) in breached
    assert (FINAL, "gender", EQUALIZED_ODDS_DIFFERENCE) in breached
    assert (AUTOMATIC, "gender", SELECTION_RATE_RATIO) not in breached


def test_point_figures_are_fairlearns():
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equal_opportunity_difference,
        equalized_odds_difference,
    )

    rng = np.random.default_rng(2)
    n = 5000
    groups = rng.choice(["a", "b", "c"], n)
    bad = rng.random(n) < 0.15
    approved = rng.random(n) < np.where(groups == "a", 0.5, 0.65) - 0.2 * bad
    decisions = pd.DataFrame(
        {
            "gender": groups,
            "decision": np.where(approved, "approve", "reject"),
            "score": 0.1,
            BAD: bad,
        }
    )
    report = assess(decisions, SANTANDER)
    fairlearn = {
        SELECTION_RATE_RATIO: demographic_parity_ratio,
        DEMOGRAPHIC_PARITY_DIFFERENCE: demographic_parity_difference,
        EQUAL_OPPORTUNITY_DIFFERENCE: equal_opportunity_difference,
        EQUALIZED_ODDS_DIFFERENCE: equalized_odds_difference,
    }
    for metric, figure in fairlearn.items():
        expected = figure(~bad, approved, sensitive_features=groups)
        assert report.worst(metric).value == pytest.approx(expected), metric


def test_outcomes_count_once_they_arrive():
    contract = load_contract(FIXTURES / "loans.yaml")  # its positive class is a good outcome
    rng = np.random.default_rng(3)
    n = 1000
    decisions = pd.DataFrame(
        {
            "application_id": [f"a{i}" for i in range(n)],
            "sex": rng.choice(["female", "male"], n),
            "decision": rng.choice(["approve", "reject", "review"], n),
            "score": rng.random(n),
        }
    )
    # outcomes of 600 applications have arrived; 1 = repaid
    arrived = pd.DataFrame({"application_id": decisions["application_id"][:600]})
    arrived["repaid"] = (rng.random(600) < 0.8).astype(int)
    report = assess(with_outcomes(decisions, arrived, contract), contract)
    table = report.groups[report.groups["stage"] == AUTOMATIC]
    assert table["n"].sum() == n  # approval rates over every decision
    assert table["good"].sum() == arrived["repaid"].sum()  # TPR / FPR over arrived outcomes
    assert table["bad"].sum() == 600 - arrived["repaid"].sum()
    assert report.worst(EQUALIZED_ODDS_DIFFERENCE).sufficient


def test_without_a_protected_attribute_nothing_is_measured_nor_failed(unbiased):
    """Kaggle's own files have no gender column: the gates do not apply, the report says so."""
    _, _, _, thresholds, risk, bad = unbiased
    frame = pd.DataFrame({"var_0": risk})  # no protected column
    report = assess_holdout(frame, risk, bad, thresholds, SANTANDER)
    evaluation = evaluate_model(risk, bad, thresholds, fairness=report)
    gates = evaluate_gates(evaluation, None, GateConfig())
    fairness = [g for g in gates if g.gate in (FAIRNESS_SELECTION_RATE, FAIRNESS_EQUALIZED_ODDS)]
    assert all(g.passed and not g.applied for g in fairness)
    page = build_report(
        ReportInputs(
            model_name="credit-toy",
            version="1",
            run_id="run",
            bad=bad,
            challenger_risk=risk,
            challenger=evaluation,
            thresholds=thresholds,
            importance=pd.Series({"var_0": 1.0}),
            gates=gates,
            promoted=True,
            fairness=report,
        )
    )
    assert "The holdout has no protected attribute" in page.markdown
