"""The model report is one self-contained HTML page plus a Markdown summary."""

import re

import numpy as np
import pandas as pd

from credit_assets.core.gates import GateConfig, evaluate_gates, evaluate_model
from credit_assets.core.report import ReportInputs, build_report
from credit_assets.core.thresholds import (
    Costs,
    Thresholds,
    choose_thresholds,
    choose_thresholds_by_cost,
)


def _scores(rng, bad, separation):
    return 1 / (1 + np.exp(-(rng.normal(np.where(bad, separation, -separation), 1.0) - 2.0)))


def _inputs(with_champion: bool, thresholds: Thresholds | None = None):
    rng = np.random.default_rng(0)
    n = 3000
    validation_bad = rng.random(n) < 0.1
    band = thresholds or choose_thresholds(
        _scores(rng, validation_bad, 1.0), validation_bad, 0.9, costs=Costs(10.0, 1.0, 0.3)
    )
    bad = rng.random(n) < 0.1
    risk, other = _scores(rng, bad, 1.0), _scores(rng, bad, 0.8)
    challenger = evaluate_model(risk, bad, band)
    champion = evaluate_model(other, bad, band) if with_champion else None
    gates = evaluate_gates(challenger, champion, GateConfig(auc_tolerance=-1.0))
    return ReportInputs(
        model_name="credit-toy",
        version="3",
        run_id="abc123",
        bad=bad,
        challenger_risk=risk,
        challenger=challenger,
        thresholds=band,
        importance=pd.Series({"var_1": 10.0, "var_2": 30.0, "var_3": 5.0}),
        gates=gates,
        promoted=False,
        champion_version="2" if with_champion else None,
        champion_risk=other if with_champion else None,
        champion=champion,
        lineage={"data_fingerprint": "f00d", "code_version": "deadbeef"},
        data_summary={"training rows": "3,000"},
        params={"learning_rate": 0.05},
    )


def test_html_is_self_contained_with_every_section():
    report = build_report(_inputs(with_champion=True))
    page = report.html
    for section in (
        "Promotion gates",
        "Comparison with the champion",
        "Data",
        "Lineage",
        "Discrimination",
        "Calibration",
        "Review band",
        "Cost",
        "Feature importance",
    ):
        assert section in page, section
    images = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(images) == 7  # the cost curve too: the band has costs
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from outside
    assert "f00d" in page and "deadbeef" in page
    assert "auc_vs_champion" in page and "FAIL" in page
    assert "not promoted" in page


def test_markdown_summary_has_gates_and_comparison():
    md = build_report(_inputs(with_champion=True)).markdown
    assert "| gate | result | value | bound | margin |" in md
    assert "| figure | v3 | champion v2 |" in md
    assert md.index("| var_2 | 30.0 |") < md.index("| var_1 | 10.0 |")  # by gain
    assert "data:image" not in md  # small enough for materialization metadata


def test_first_model_report_has_no_champion_column_values():
    report = build_report(_inputs(with_champion=False))
    assert "There was no champion" in report.html


def test_band_chosen_by_cost_shows_its_cost_curve_and_no_accuracy_target():
    rng = np.random.default_rng(1)
    validation_bad = rng.random(3000) < 0.1
    band = choose_thresholds_by_cost(_scores(rng, validation_bad, 1.0), validation_bad, 10, 1, 0.3)
    page = build_report(_inputs(with_champion=False, thresholds=band)).html
    assert "lowest expected cost per scored application" in page
    assert "band chosen by cost, no accuracy target" in page
    assert 'alt="cost curve"' in page


def test_band_without_costs_says_how_to_get_a_cost_curve():
    rng = np.random.default_rng(1)
    validation_bad = rng.random(3000) < 0.1
    band = choose_thresholds(_scores(rng, validation_bad, 1.0), validation_bad, 0.9)
    page = build_report(_inputs(with_champion=False, thresholds=band)).html
    assert "No costs were recorded with this band" in page
    assert 'alt="cost curve"' not in page
