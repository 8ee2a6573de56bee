"""The model report is one self-contained HTML page plus a Markdown summary."""

import re

import numpy as np
import pandas as pd

from credit_assets.core.gates import GateConfig, evaluate_gates, evaluate_model
from credit_assets.core.report import ReportInputs, build_report
from credit_assets.core.thresholds import choose_thresholds


def _inputs(with_champion: bool):
    rng = np.random.default_rng(0)
    n = 3000
    bad = rng.random(n) < 0.1
    risk = 1 / (1 + np.exp(-(rng.normal(np.where(bad, 1.0, -1.0), 1.0) - 2.0)))
    other = 1 / (1 + np.exp(-(rng.normal(np.where(bad, 0.8, -0.8), 1.0) - 2.0)))
    challenger = evaluate_model(risk, bad, 0.9)
    champion = evaluate_model(other, bad, 0.9) if with_champion else None
    gates = evaluate_gates(challenger, champion, GateConfig(auc_tolerance=-1.0))
    return ReportInputs(
        model_name="credit-toy",
        version="3",
        run_id="abc123",
        bad=bad,
        challenger_risk=risk,
        challenger=challenger,
        thresholds=choose_thresholds(risk, bad, 0.9),
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
        "Feature importance",
    ):
        assert section in page, section
    images = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(images) == 6
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
