"""The model report: one self-contained HTML page per model version, and its Markdown summary.

Everything a reviewer needs to see why a version is (or is not) in production: the data it
was trained on, its curves on the holdout, calibration, score distribution with the review
band, the coverage-accuracy trade-off, the cost curve, feature importance, the comparison with
the champion on the same holdout, the promotion gates, and fairness (per-group figures of the
automatic decisions, business rules that hit one group harder, features that are proxies for a
protected attribute). Images are inline base64 PNGs: the file opens anywhere, offline, with no
external asset.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from credit_assets.core import plots
from credit_assets.core.fairness import (
    AUTOMATIC,
    BREACH,
    EQUALIZED_ODDS_DIFFERENCE,
    SELECTION_RATE_RATIO,
    TABLE_HEADER,
    FairnessReport,
)
from credit_assets.core.figures import (
    describe_band,
    describe_cost,
    fmt_accuracy,
    fmt_cost,
    fmt_rate,
)
from credit_assets.core.gates import (
    FAIRNESS_GATES,
    Evaluation,
    GateResult,
    all_passed,
    gates_markdown,
)
from credit_assets.core.thresholds import Thresholds, cost_curve, coverage_accuracy_curve


@dataclass
class ReportInputs:
    model_name: str
    version: str
    run_id: str
    bad: np.ndarray  # holdout bad-outcome flags
    challenger_risk: np.ndarray  # holdout risk of this version
    challenger: Evaluation
    thresholds: Thresholds
    importance: pd.Series  # feature -> total gain
    gates: list[GateResult]
    promoted: bool
    champion_version: str | None = None  # the champion it was compared with
    champion_risk: np.ndarray | None = None
    champion: Evaluation | None = None
    lineage: dict[str, Any] = field(default_factory=dict)  # versions, fingerprints, run ids
    data_summary: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    fairness: FairnessReport | None = None  # this version's, on the same holdout


@dataclass(frozen=True)
class ModelReport:
    html: str
    markdown: str


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return "–" if np.isnan(x) else f"{x:.{digits}f}"
    return str(x)


def _comparison_rows(inputs: ReportInputs) -> list[tuple[str, str, str]]:
    c, p = inputs.challenger, inputs.champion
    pb = p.band if p else None
    rows = [
        ("holdout AUC", _fmt(c.auc), _fmt(p.auc if p else None)),
        ("Brier score", _fmt(c.brier), _fmt(p.brier if p else None)),
        ("expected calibration error", _fmt(c.ece), _fmt(p.ece if p else None)),
        (
            "automation rate, own review band",
            fmt_rate(c.automation_rate),
            fmt_rate(p.automation_rate if p else None),
        ),
        (
            f"{c.band.metric} accuracy of automatic decisions",
            fmt_accuracy(c.automation_accuracy),
            fmt_accuracy(p.automation_accuracy if p else None),
        ),
        (
            "expected cost per scored application",
            fmt_cost(c.band.cost.value if c.band.cost else None),
            fmt_cost(pb.cost.value if pb and pb.cost else None),
        ),
        ("holdout rows", str(c.rows), str(p.rows) if p else "–"),
        ("bad-outcome rate", fmt_rate(c.bad_rate), fmt_rate(p.bad_rate if p else None)),
    ]
    return rows


def _md_table(header: list[str], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; font-size: 0.92em; }
th { background: #f3f3f3; }
.pass { color: #176b26; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
.na { color: #777; }
.banner { padding: 0.6em 1em; border-radius: 4px; margin: 1em 0; }
.banner.ok { background: #e6f4ea; } .banner.ko { background: #fdecea; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; } .grid figure { margin: 0; }
code { background: #f3f3f3; padding: 0 0.2em; }
</style></head><body>
<h1>{{ title }}</h1>
<p>Generated {{ generated }} · MLflow run <code>{{ run_id }}</code></p>
<div class="banner {{ 'ok' if promoted else 'ko' }}">{{ verdict }}</div>

<h2>Promotion gates</h2>
<table><tr><th>gate</th><th>result</th><th>value</th><th>bound</th><th>margin</th>
<th>what</th></tr>
{% for g in gates %}<tr>
<td>{{ g.gate }}</td>
<td class="{{ 'na' if not g.applied else ('pass' if g.passed else 'fail') }}">
{{ 'n/a' if not g.applied else ('pass' if g.passed else 'FAIL') }}</td>
<td>{{ fmt(g.value) }}</td><td>{{ g.direction }} {{ fmt(g.bound) }}</td>
<td>{{ fmt(g.margin) }}</td><td>{{ g.what }}</td></tr>
{% endfor %}</table>

<h2>Comparison with the champion{% if champion_version %} (version {{ champion_version }},
re-scored on this holdout){% endif %}</h2>
{% if not champion_version %}<p>There was no champion: only the absolute gates apply.</p>
{% endif %}
<table><tr><th>figure</th><th>this version ({{ version }})</th><th>champion</th></tr>
{% for row in comparison %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td><td>{{ row[2] }}</td>
</tr>{% endfor %}</table>

<h2>Data</h2>
<table>{% for k, v in data_summary %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}
</table>
<h3>Lineage</h3>
<table>{% for k, v in lineage %}<tr><th>{{ k }}</th><td><code>{{ v }}</code></td></tr>
{% endfor %}</table>

<h2>Discrimination</h2>
<div class="grid">
<figure><img alt="ROC" src="data:image/png;base64,{{ img.roc }}"></figure>
<figure><img alt="precision-recall" src="data:image/png;base64,{{ img.pr }}"></figure>
</div>

<h2>Calibration</h2>
<div class="grid">
<figure><img alt="calibration" src="data:image/png;base64,{{ img.calibration }}"></figure>
</div>

<h2>Review band</h2>
<p>Approve below risk <b>{{ fmt(thresholds.approve_below) }}</b>, reject above
<b>{{ fmt(thresholds.reject_above) }}</b>, review in between; {{ chosen_by }}.</p>
<p>Validation: {{ pct(thresholds.validation_coverage) }} automated at
{{ thresholds.metric }} accuracy {{ fmt(thresholds.validation_accuracy) }}.<br>
Holdout, the same band: <b class="{{ band_class }}">{{ band_line }}</b>.</p>
<div class="grid">
<figure><img alt="score distribution" src="data:image/png;base64,{{ img.scores }}"></figure>
<figure><img alt="coverage-accuracy" src="data:image/png;base64,{{ img.coverage }}"></figure>
</div>

<h2>Cost</h2>
{% if costs %}<p>Costs per decision: approving a bad applicant {{ costs.bad_approved }},
rejecting a good one {{ costs.good_rejected }}, a manual review {{ costs.review }}.
Validation: expected cost {{ fcost(thresholds.validation_cost) }} per scored application;
holdout: {{ cost_line }}. The curve is the lowest expected cost reachable on the holdout at
each automation rate; the dot is the band in use.</p>
<div class="grid">
<figure><img alt="cost curve" src="data:image/png;base64,{{ img.cost }}"></figure>
</div>
{% else %}<p>No costs were recorded with this band: set the costs of the
<code>decision_thresholds</code> asset to see its cost curve.</p>{% endif %}

<h2>Feature importance</h2>
<div class="grid">
<figure><img alt="feature importance" src="data:image/png;base64,{{ img.importance }}">
</figure>
</div>

{% if fairness %}<h2>Fairness</h2>
{% if not group_rows %}<p>{{ no_protected }}</p>{% else %}
<p>Automatic decisions of this version on the holdout, by protected attribute and
intersection. Approval rate: the share of scored applications approved automatically (a review
is not an approval). Groups under {{ fairness.config.min_group_size }} applications are shown
but not compared; a figure breaches its bound only at the edge of the groups'
{{ '%.0f' % (100 * fairness.config.confidence) }}% confidence intervals.</p>
<table><tr>{% for h in fairness_header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in fairness_rows %}<tr>{% for v in row %}
<td{% if v == breach %} class="fail"{% endif %}>{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table>
<div class="grid">
<figure><img alt="approval rate by group" src="data:image/png;base64,{{ img.groups }}">
</figure>
</div>
<table><tr>{% for h in group_header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in group_rows %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table>
<h3>Features that are proxies for a protected attribute</h3>
<p>How well each feature alone tells a group from the rest (AUC, 0.5 is not at all), strongest
first: a strong proxy lets a model discriminate without seeing the attribute.</p>
<table><tr><th>feature</th><th>attribute</th><th>group</th><th>AUC</th></tr>
{% for row in proxies %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table>
{% endif %}{% endif %}

<h2>Training parameters</h2>
<table>{% for k, v in params %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
</body></html>
"""
)


def build_report(inputs: ReportInputs) -> ModelReport:
    bad = np.asarray(inputs.bad, dtype=bool)
    label = f"v{inputs.version} (this version)"
    models = {label: np.asarray(inputs.challenger_risk, dtype=float)}
    if inputs.champion_risk is not None and inputs.champion_version is not None:
        models[f"v{inputs.champion_version} (champion)"] = np.asarray(
            inputs.champion_risk, dtype=float
        )
    th = inputs.thresholds
    band = inputs.challenger.band
    curves = {name: coverage_accuracy_curve(risk, bad, th.metric) for name, risk in models.items()}
    images = {
        "roc": plots.roc_compare_png(bad, models),
        "pr": plots.precision_recall_png(bad, models),
        "calibration": plots.calibration_png(bad, models),
        "scores": plots.score_distribution_png(
            bad, models[label], th.approve_below, th.reject_above
        ),
        "coverage": plots.coverage_compare_png(
            curves, th.target_accuracy, (band.automation.value, band.accuracy.value)
        ),
        "importance": plots.importance_png(inputs.importance),
    }
    if th.costs is not None and band.cost is not None:
        images["cost"] = plots.cost_curve_png(
            cost_curve(models[label], bad, th.costs), (band.automation.value, band.cost.value)
        )
    fairness = inputs.fairness
    if fairness is not None and not fairness.groups.empty:
        automatic = fairness.groups[fairness.groups["stage"] == AUTOMATIC]
        images["groups"] = plots.group_rates_png(automatic, "Automatic approvals by group")
    verdict = _verdict(inputs)
    title = f"{inputs.model_name} version {inputs.version}"
    page = _TEMPLATE.render(
        title=title,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        run_id=inputs.run_id,
        promoted=inputs.promoted,
        verdict=verdict,
        gates=inputs.gates,
        comparison=_comparison_rows(inputs),
        champion_version=inputs.champion_version,
        version=inputs.version,
        data_summary=list(inputs.data_summary.items()),
        lineage=list(inputs.lineage.items()),
        thresholds=th,
        chosen_by=_chosen_by(th),
        band_line=describe_band(band),
        band_class="fail" if band.status == "missed" else "",
        costs=th.costs,
        cost_line=describe_cost(band.cost),
        params=sorted(inputs.params.items()),
        fairness=fairness,
        fairness_header=TABLE_HEADER,
        breach=BREACH,
        fairness_rows=_fairness_rows(inputs),
        group_header=_GROUP_HEADER,
        group_rows=_group_rows(fairness),
        proxies=_proxy_rows(fairness, top=15),
        no_protected=NO_PROTECTED,
        img={k: plots.png_base64(v) for k, v in images.items()},
        fmt=_fmt,
        pct=fmt_rate,
        fcost=fmt_cost,
    )
    return ModelReport(html=page, markdown=_markdown(inputs, verdict))


def _chosen_by(th: Thresholds) -> str:
    if th.policy == "cost":
        return "chosen on validation for the lowest expected cost per scored application"
    return f"chosen on validation for {th.metric} accuracy ≥ {th.target_accuracy:.2f}"


def _verdict(inputs: ReportInputs) -> str:
    if inputs.promoted:
        return f"Version {inputs.version} passed every gate and is the champion."
    if all_passed(inputs.gates):
        return f"Version {inputs.version} passed every gate but was not promoted."
    failed = ", ".join(g.gate for g in inputs.gates if not g.passed)
    keep = f"version {inputs.champion_version}" if inputs.champion_version else "no champion"
    return (
        f"Version {inputs.version} was not promoted: gate(s) {failed} failed; the champion "
        f"stays {keep}."
    )


def _markdown(inputs: ReportInputs, verdict: str) -> str:
    th = inputs.thresholds
    champion = f"champion v{inputs.champion_version}" if inputs.champion_version else "champion"
    top = inputs.importance.sort_values(ascending=False).head(10)
    parts = [
        f"**{html.escape(verdict)}**",
        "### Gates",
        gates_markdown(inputs.gates),
        "### This version vs the champion, same holdout",
        _md_table(["figure", f"v{inputs.version}", champion], _comparison_rows(inputs)),
        "### Review band",
        f"approve below {th.approve_below:.4f}, reject above {th.reject_above:.4f}, "
        f"{_chosen_by(th)}; holdout, the same band: {describe_band(inputs.challenger.band)}",
        "### Data",
        _md_table(["", ""], [(k, v) for k, v in inputs.data_summary.items()]),
        "### Top features (gain)",
        _md_table(["feature", "gain"], [(k, f"{v:.1f}") for k, v in top.items()]),
    ]
    if inputs.fairness is not None and inputs.fairness.groups.empty:
        parts += ["### Fairness", NO_PROTECTED]
    elif inputs.fairness is not None:
        parts += [
            "### Fairness (automatic decisions, holdout)",
            _md_table(TABLE_HEADER, _fairness_rows(inputs)),
            "### Proxies for a protected attribute (strongest first)",
            _md_table(["feature", "attribute", "group", "AUC"], _proxy_rows(inputs.fairness, 5)),
        ]
    return "\n\n".join(parts)


NO_PROTECTED = "The holdout has no protected attribute: no fairness figures."
_GROUP_HEADER = [
    "attribute",
    "group",
    "applications",
    "approval rate",
    "interval",
    "TPR (good approved)",
    "FPR (bad approved)",
    "AUC",
    "mean risk",
    "bad rate",
    "",
]


def _fairness_rows(inputs: ReportInputs) -> list[tuple[str, ...]]:
    """The model's disparities (automatic decisions) and the rules', each held to the bound
    its promotion gate applied."""
    if inputs.fairness is None:
        return []
    applied = {g.gate: g.bound for g in inputs.gates if g.applied}
    bound = {gate.metric: applied.get(gate.name) for gate in FAIRNESS_GATES}
    return inputs.fairness.table(
        bound[SELECTION_RATE_RATIO], bound[EQUALIZED_ODDS_DIFFERENCE], stages=(AUTOMATIC,)
    )


def _group_rows(fairness: FairnessReport | None) -> list[tuple[str, ...]]:
    if fairness is None:
        return []
    rows = fairness.groups[fairness.groups["stage"] == AUTOMATIC]
    return [
        (
            r["attribute"],
            r["group"],
            f"{r['n']:,}",
            _fmt(r["approval_rate"], 3),
            f"{r['approval_rate_low']:.3f}–{r['approval_rate_high']:.3f}",
            *(_fmt(r.get(c), 3) for c in ("tpr", "fpr", "auc", "mean_risk", "bad_rate")),
            "too small to compare" if r["small"] else "",
        )
        for _, r in rows.iterrows()
    ]


def _proxy_rows(fairness: FairnessReport | None, top: int) -> list[tuple[str, ...]]:
    if fairness is None:
        return []
    return [
        (r["feature"], r["attribute"], r["group"], f"{r['auc']:.3f}")
        for _, r in fairness.proxies.head(top).iterrows()
    ]
