"""Fairness across the decision funnel: do decisions differ by a protected attribute?

Protected attributes come from the contract: categorical ones as they are, numeric ones in
the contract's bands (``30-44``). Figures are computed for each attribute and for the
intersection of every two (``gender×age``), whose groups are smaller.

**Approval**, the one favourable outcome every figure here is about. An application is
*approved at a stage* when it leaves that stage favourably, and a stage's approval rate is
over the applications that reached it:

* ``rules``      every application; approved = not rejected by a hard rule;
* ``automatic``  the applications that passed the rules (the model scored them); approved =
                 approved automatically. A review is not an approval: a model that sends one
                 group to review more often treats it worse;
* ``final``      the applications whose final outcome is known (decided automatically, or
                 reviewed: column ``final_decision``); approved = approved automatically or
                 after review.

With outcome labels (column ``bad``), a *qualified* applicant is one with a good outcome:
equal opportunity compares approval rates among good applicants (TPR), equalized odds among
good and among bad ones (TPR and FPR). The risk score's AUC and calibration are per group.

**Evidence, not noise.** Every group's rate has a Wilson confidence interval. A disparity
compares only groups with at least ``min_group_size`` applications, and its *evidence* is
read at the edge of the intervals: the lower bound of a gap, the upper bound of a ratio. A
breach counts only when the evidence crosses the bound, so a small group's chance swing is
shown, with its interval, but never fails a gate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from itertools import combinations

import numpy as np
import pandas as pd

from credit_assets.core.contract import DatasetContract
from credit_assets.core.rules import RULE_ID
from credit_assets.core.thresholds import APPROVE, REVIEW, RULE_REJECT, Thresholds

RULES, AUTOMATIC, FINAL = "rules", "automatic", "final"
# Decision-frame columns beyond ``decision`` and ``score``, both optional.
BAD, FINAL_DECISION = "bad", "final_decision"

SELECTION_RATE_RATIO = "selection_rate_ratio"  # lowest / highest approval rate (four-fifths)
DEMOGRAPHIC_PARITY_DIFFERENCE = "demographic_parity_difference"
EQUAL_OPPORTUNITY_DIFFERENCE = "equal_opportunity_difference"  # TPR gap
EQUALIZED_ODDS_DIFFERENCE = "equalized_odds_difference"  # larger of the TPR and FPR gaps
REJECT_SHARE_RATIO = "reject_share_ratio"  # a rule: highest / lowest share of a group it rejects
INTERSECTION = "×"
MISSING = "missing"
PROXY_COLUMNS = ["feature", "attribute", "group", "auc"]
# Per rate in a group table: the columns counting its successes and trials, and its name.
_RATES = {
    "approval_rate": ("approved", "n", "approval rate"),
    "tpr": ("good_approved", "good", "approval rate of good applicants (TPR)"),
    "fpr": ("bad_approved", "bad", "approval rate of bad applicants (FPR)"),
}


@dataclass(frozen=True)
class FairnessConfig:
    min_group_size: int = 50  # smaller groups are shown but never compared
    confidence: float = 0.95  # of each group's interval
    rule_hit_ratio: float = 1.25  # flag a rule rejecting one group this many times as often


@dataclass(frozen=True)
class Disparity:
    """One figure for one attribute at one stage, with the pair of groups behind it:
    ``groups[0]`` is the less favoured (lower approval rate, or more often hit by a rule)."""

    stage: str
    attribute: str
    metric: str
    value: float  # point figure over the groups large enough (NaN: fewer than two)
    evidence: float  # the same figure at the edge of the groups' confidence intervals
    rate: str  # what the groups' rates are: approval rate, TPR, FPR, share rejected
    groups: tuple[str, str] = ("", "")
    rates: tuple[float, float] = (math.nan, math.nan)
    sizes: tuple[int, int] = (0, 0)
    rule: str | None = None

    @property
    def sufficient(self) -> bool:
        return not math.isnan(self.value)

    def breaches(self, bound: float) -> bool:
        """Clearly beyond ``bound``: a ratio of approval rates below it, a gap or a rule's
        ratio above it. Insufficient evidence never breaches."""
        if not self.sufficient:
            return False
        if self.metric == SELECTION_RATE_RATIO:
            return self.evidence < bound
        return self.evidence > bound

    def describe(self) -> str:
        where = f"rule {self.rule}" if self.rule else f"{self.stage} stage"
        if not self.sufficient:
            return f"{self.attribute}, {where}: {self.metric} not measured (groups too small)"
        (low, high), (r_low, r_high), (n_low, n_high) = self.groups, self.rates, self.sizes
        return (
            f"{self.attribute}, {where}: {self.metric} {_fmt(self.value)} "
            f"(at the confidence bounds {_fmt(self.evidence)}); {self.rate} "
            f"{low} {r_low:.3f} (n={n_low:,}) vs {high} {r_high:.3f} (n={n_high:,})"
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Disparity:
        tuples = {k: tuple(data[k]) for k in ("groups", "rates", "sizes")}
        return cls(**{**data, **tuples})


def _fmt(x: float) -> str:
    return "–" if math.isnan(x) else "inf" if math.isinf(x) else f"{x:.3f}"


@dataclass
class FairnessReport:
    groups: pd.DataFrame  # one row per stage, attribute and group: rates with intervals
    disparities: list[Disparity]  # per stage, attribute and metric; per rule and attribute
    rule_impact: pd.DataFrame  # one row per rule, attribute and group: share rejected
    proxies: pd.DataFrame  # feature, attribute, group, auc: strongest first
    config: FairnessConfig

    def worst(self, metric: str, stage: str = AUTOMATIC) -> Disparity | None:
        """The disparity of ``metric`` at ``stage`` with the strongest evidence against
        fairness, over every attribute and intersection (None: no protected attribute)."""
        found = [d for d in self.disparities if d.metric == metric and d.stage == stage]
        measured = [d for d in found if d.sufficient]
        if not measured:
            return found[0] if found else None
        if metric == SELECTION_RATE_RATIO:
            return min(measured, key=lambda d: (d.evidence, d.value))
        return max(measured, key=lambda d: (d.evidence, d.value))

    def bounds(
        self, min_selection_rate_ratio: float | None, max_equalized_odds_difference: float | None
    ) -> dict[str, float]:
        """The bound each figure is held to: the promotion gates' (None: not held), and the
        rule-hit ratio for rules."""
        bounds = {
            SELECTION_RATE_RATIO: min_selection_rate_ratio,
            EQUALIZED_ODDS_DIFFERENCE: max_equalized_odds_difference,
            REJECT_SHARE_RATIO: self.config.rule_hit_ratio,
        }
        return {metric: bound for metric, bound in bounds.items() if bound is not None}

    def breaches(
        self, min_selection_rate_ratio: float, max_equalized_odds_difference: float
    ) -> list[Disparity]:
        """Every clear breach of the promotion gates' bounds at any stage, and every rule
        flagged: what a daily check warns about."""
        bounds = self.bounds(min_selection_rate_ratio, max_equalized_odds_difference)
        return [d for d in self.disparities if d.metric in bounds and d.breaches(bounds[d.metric])]

    def table(
        self,
        min_selection_rate_ratio: float | None,
        max_equalized_odds_difference: float | None,
        stages: tuple[str, ...] = (RULES, AUTOMATIC, FINAL),
    ) -> list[tuple[str, ...]]:
        """Rows under :data:`TABLE_HEADER`: the disparities at ``stages`` and every rule's,
        each with its bound and verdict (for a report or a materialization's metadata)."""
        bounds = self.bounds(min_selection_rate_ratio, max_equalized_odds_difference)
        rows = []
        for d in self.disparities:
            if d.rule is None and d.stage not in stages:
                continue
            bound = bounds.get(d.metric)
            (low, high), (r_low, r_high), (n_low, n_high) = d.groups, d.rates, d.sizes
            rows.append(
                (
                    f"rule {d.rule}" if d.rule else d.stage,
                    d.attribute,
                    d.metric,
                    _fmt(d.value),
                    _fmt(d.evidence),
                    "–" if bound is None else f"{bound:.2f}",
                    _verdict(d, bound),
                    f"{d.rate}: {low} {r_low:.3f} (n={n_low:,}) vs {high} {r_high:.3f} "
                    f"(n={n_high:,})"
                    if d.sufficient
                    else "–",
                )
            )
        return rows

    def disparities_frame(self) -> pd.DataFrame:
        return pd.DataFrame([d.to_dict() for d in self.disparities])


TABLE_HEADER = (
    "where",
    "attribute",
    "figure",
    "value",
    "at the confidence bounds",
    "bound",
    "verdict",
    "groups compared",
)
BREACH = "BREACH"


def _verdict(d: Disparity, bound: float | None) -> str:
    if not d.sufficient:
        return "not measured"
    if bound is None:
        return "–"
    return BREACH if d.breaches(bound) else "within bound"


# -- groups -----------------------------------------------------------------------------------


def band(values: pd.Series, edges: list[float], labels: list[str]) -> pd.Series:
    """Numeric values as the contract's band labels; a missing value is ``missing``."""
    banded = pd.cut(values, bins=[-np.inf, *edges, np.inf], right=False, labels=labels)
    return _ordered(banded.astype(object).where(values.notna(), MISSING), labels)


def _ordered(values: pd.Series, order: list[str]) -> pd.Series:
    """Group labels as an ordered categorical: ``order`` first (bands low to high, the
    contract's levels), then any other value sorted, then ``missing``; tables and plots list
    groups in that order."""
    labels = values.astype(object).where(values.notna(), MISSING).astype(str)
    seen = set(labels.unique())
    rest = sorted(seen - set(order) - {MISSING})
    categories = [c for c in [*order, *rest, MISSING] if c in seen]
    return pd.Series(pd.Categorical(labels, categories=categories, ordered=True), values.index)


def protected_groups(frame: pd.DataFrame, contract: DatasetContract) -> dict[str, pd.Series]:
    """Group labels per protected attribute present in ``frame`` (banded where the contract
    says), then per intersection of two attributes (``gender×age``: ``F×30-44``)."""
    single: dict[str, pd.Series] = {}
    for column in contract.resolve_protected(list(frame.columns)):
        spec = contract.protected_spec(column)
        if spec is not None and spec.bands is not None:
            single[column] = band(frame[column], spec.bands, spec.band_labels())
        else:
            single[column] = _ordered(frame[column], (spec.levels if spec else None) or [])
    crossed = {}
    for a, b in combinations(single, 2):
        order = [
            f"{x}{INTERSECTION}{y}"
            for x in single[a].cat.categories
            for y in single[b].cat.categories
        ]
        labels = single[a].astype(str) + INTERSECTION + single[b].astype(str)
        crossed[f"{a}{INTERSECTION}{b}"] = _ordered(labels, order)
    return {**single, **crossed}


# -- the funnel -------------------------------------------------------------------------------


def funnel_stages(decisions: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per stage: which rows reached it, and which of them were approved (see the module
    docstring). ``final`` only when the frame has reviewers' decisions."""
    decision = decisions["decision"].to_numpy()
    passed = decision != RULE_REJECT
    stages = {RULES: (np.ones(len(decisions), dtype=bool), passed)}
    stages[AUTOMATIC] = (passed, decision == APPROVE)
    if FINAL_DECISION in decisions:
        final = decisions[FINAL_DECISION].to_numpy()
        reviewed = pd.notna(final)
        known = (decision != REVIEW) | reviewed
        stages[FINAL] = (known, (decision == APPROVE) | (reviewed & (final == APPROVE)))
    return stages


def _wilson(successes: np.ndarray, trials: np.ndarray, confidence: float):
    """Wilson score interval of each rate (NaN where there were no trials)."""
    from scipy.stats import binomtest

    low, high = np.full(len(trials), np.nan), np.full(len(trials), np.nan)
    for i, (k, n) in enumerate(zip(successes, trials, strict=True)):
        if n > 0:
            ci = binomtest(int(k), int(n)).proportion_ci(confidence, method="wilson")
            low[i], high[i] = ci.low, ci.high
    return low, high


def _group_table(
    groups: pd.Series,
    approved: np.ndarray,
    bad: np.ndarray | None,
    risk: np.ndarray | None,
    config: FairnessConfig,
) -> pd.DataFrame:
    """Per group: applications, approvals and approval rate; where outcomes are known
    (``bad`` is 0 / 1, NaN where not yet known) TPR and FPR; with scores too, AUC and
    calibration (mean risk against the observed bad rate).

    The counts are one pandas group-by. fairlearn's ``MetricFrame`` gives the same rates
    (the tests check the figures against fairlearn's) but stacks every value in Python, many
    times slower on a holdout of tens of thousands of rows (bench/fairness.py measures both)."""
    counts = pd.DataFrame({"group": groups.array, "n": 1, "approved": approved})
    known = ~np.isnan(bad) if bad is not None else np.zeros(len(approved), dtype=bool)
    if known.any():
        counts["good"] = known & (bad == 0)
        counts["bad"] = known & (bad == 1)
        counts["good_approved"] = counts["good"] & approved
        counts["bad_approved"] = counts["bad"] & approved
    table = counts.groupby("group", observed=True).sum().astype(int)
    for rate, (successes, trials, _) in _RATES.items():
        if trials in table:
            n = table[trials].to_numpy()
            table[rate] = table[successes] / table[trials].where(table[trials] > 0)
            low, high = _wilson(table[successes].to_numpy(), n, config.confidence)
            table[f"{rate}_low"], table[f"{rate}_high"] = low, high
    if known.any() and risk is not None:
        scored = pd.DataFrame({"group": groups.array, "bad": bad, "risk": risk})[known]
        by_group = scored.groupby("group", observed=True)
        table["auc"] = by_group.apply(lambda g: _auc(g["bad"], g["risk"]), include_groups=False)
        table["mean_risk"] = by_group["risk"].mean()
        table["bad_rate"] = by_group["bad"].mean()
    table["small"] = table["n"] < config.min_group_size
    return table.reset_index()


def _auc(bad: pd.Series, risk: pd.Series) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(bad, risk)) if bad.nunique() == 2 else math.nan


def _gap(table: pd.DataFrame, rate: str) -> tuple[float, float, int, int]:
    """Largest gap in ``rate`` between large-enough groups: (point, evidence, low, high),
    the evidence being the largest lower bound of a gap between two groups' intervals."""
    rows = table.loc[~table["small"] & table[rate].notna()]
    if len(rows) < 2:
        return math.nan, math.nan, -1, -1
    r, lo, hi = (rows[c].to_numpy() for c in (rate, f"{rate}_low", f"{rate}_high"))
    clear = lo[:, None] - hi[None, :]  # [a, b]: a above b beyond both intervals
    point = r[:, None] - r[None, :]
    a, b = np.unravel_index(np.argmax(clear if clear.max() > 0 else point), clear.shape)
    return float(point.max()), max(float(clear.max()), 0.0), rows.index[b], rows.index[a]


def _ratio(table: pd.DataFrame, rate: str) -> tuple[float, float, int, int]:
    """Lowest over highest ``rate`` between large-enough groups: (point, evidence, low, high),
    the evidence being the smallest ratio of one group's upper bound to another's lower."""
    rows = table.loc[~table["small"] & table[rate].notna()]
    if len(rows) < 2 or rows[rate].max() <= 0:
        return math.nan, math.nan, -1, -1
    r, lo, hi = (rows[c].to_numpy() for c in (rate, f"{rate}_low", f"{rate}_high"))
    with np.errstate(divide="ignore", invalid="ignore"):
        clear = np.where(lo[None, :] > 0, hi[:, None] / lo[None, :], np.inf)  # [b, a]: b / a
    low, high = int(np.argmin(r)), int(np.argmax(r))
    if clear.min() < 1:
        low, high = np.unravel_index(np.argmin(clear), clear.shape)
    return float(r.min() / r.max()), min(float(clear.min()), 1.0), rows.index[low], rows.index[high]


def _disparity(
    stage: str, attribute: str, metric: str, table: pd.DataFrame, rate: str
) -> Disparity:
    measure = _ratio if metric == SELECTION_RATE_RATIO else _gap
    value, evidence, low, high = measure(table, rate)
    _, denominator, rate_name = _RATES[rate]
    if low < 0:
        return Disparity(stage, attribute, metric, value, evidence, rate_name)
    pair = table.loc[[low, high]]
    return Disparity(
        stage,
        attribute,
        metric,
        value,
        evidence,
        rate_name,
        groups=tuple(pair["group"].astype(str)),
        rates=tuple(float(x) for x in pair[rate]),
        sizes=tuple(int(x) for x in pair[denominator]),
    )


def _stage_disparities(stage: str, attribute: str, table: pd.DataFrame) -> list[Disparity]:
    found = [
        _disparity(stage, attribute, SELECTION_RATE_RATIO, table, "approval_rate"),
        _disparity(stage, attribute, DEMOGRAPHIC_PARITY_DIFFERENCE, table, "approval_rate"),
    ]
    if "tpr" in table:
        tpr = _disparity(stage, attribute, EQUAL_OPPORTUNITY_DIFFERENCE, table, "tpr")
        fpr = _disparity(stage, attribute, EQUALIZED_ODDS_DIFFERENCE, table, "fpr")
        # Equalized odds: the larger gap of the two; its groups are those of the clearer one.
        measured = [d for d in (tpr, fpr) if d.sufficient]
        clearer = max(measured, key=lambda d: (d.evidence, d.value), default=fpr)
        odds = replace(
            clearer,
            metric=EQUALIZED_ODDS_DIFFERENCE,
            value=max((d.value for d in measured), default=math.nan),
        )
        found += [tpr, odds]
    return found


# -- rules ------------------------------------------------------------------------------------


def rule_impact(
    decisions: pd.DataFrame,
    contract: DatasetContract,
    groups: dict[str, pd.Series],
    config: FairnessConfig,
) -> tuple[pd.DataFrame, list[Disparity]]:
    """Per rule and attribute: the share of each group the rule rejected, and the ratio of
    the hardest-hit group's share to the least-hit one's (flagged above
    ``config.rule_hit_ratio``, at the confidence bounds)."""
    if RULE_ID not in decisions or not contract.rules:
        return pd.DataFrame(), []
    tables, found = [], []
    rule_ids = decisions[RULE_ID].to_numpy()
    for rule in contract.rules:
        hit = rule_ids == rule.id
        for attribute, labels in groups.items():
            table = _group_table(labels, hit, None, None, config)
            least_over_most = _disparity(
                RULES, attribute, SELECTION_RATE_RATIO, table, "approval_rate"
            )
            found.append(_hardest_hit_first(least_over_most, rule.id))
            shares = table.rename(
                columns=lambda c: c.replace("approval_rate", "share_rejected").replace(
                    "approved", "rejected"
                )
            )
            tables.append(shares.assign(rule=rule.id, attribute=attribute))
    return pd.concat(tables, ignore_index=True), found


def _hardest_hit_first(ratio: Disparity, rule: str) -> Disparity:
    """A rule's figure from the ratio of its groups' shares rejected (least hit / most hit),
    inverted: 1.25 means one group is rejected a quarter more often than another."""

    def inverse(x: float) -> float:
        return math.inf if x == 0 else 1 / x

    return replace(
        ratio,
        metric=REJECT_SHARE_RATIO,
        value=inverse(ratio.value),
        evidence=inverse(ratio.evidence),
        rate="share rejected",
        groups=ratio.groups[::-1],
        rates=ratio.rates[::-1],
        sizes=ratio.sizes[::-1],
        rule=rule,
    )


# -- proxies ----------------------------------------------------------------------------------


def proxy_strengths(
    frame: pd.DataFrame, contract: DatasetContract, config: FairnessConfig = FairnessConfig()
) -> pd.DataFrame:
    """How well each model feature alone predicts each protected attribute: the AUC of the
    feature's value (of its level's share of the group, for a categorical feature) for
    telling a group from the rest, as max(AUC, 1 - AUC), over the groups of at least
    ``min_group_size`` rows. Strongest first; 0.5 is no information."""
    from scipy.stats import rankdata

    features = contract.resolve_features(list(frame.columns))
    attributes = {
        a: g for a, g in protected_groups(frame, contract).items() if INTERSECTION not in a
    }
    if not features or not attributes:
        return pd.DataFrame(columns=PROXY_COLUMNS)
    numeric = [f for f in features if pd.api.types.is_numeric_dtype(frame[f])]
    categorical = [f for f in features if f not in numeric]
    # one feature per row: ranking along rows reads memory in order (half the time)
    values = np.ascontiguousarray(frame[numeric].to_numpy(dtype=float).T)
    ranks = rankdata(np.where(np.isnan(values), -np.inf, values), axis=1)  # missing: lowest
    rows = []
    for attribute, labels in attributes.items():
        counts = labels.value_counts()
        for group in counts.index[(counts >= config.min_group_size) & (counts < len(labels))]:
            member = (labels == group).to_numpy()
            auc = [*_rank_auc(ranks, member)]
            if categorical:  # a level's share of the group, ranked like a number
                shares = [
                    pd.Series(member).groupby(frame[f].astype(str).to_numpy()).transform("mean")
                    for f in categorical
                ]
                auc += [*_rank_auc(rankdata(np.vstack(shares), axis=1), member)]
            rows += [
                (feature, attribute, group, max(a, 1 - a))
                for feature, a in zip([*numeric, *categorical], auc, strict=True)
            ]
    table = pd.DataFrame(rows, columns=PROXY_COLUMNS)
    best = table.sort_values("auc", ascending=False).drop_duplicates(["feature", "attribute"])
    return best.reset_index(drop=True)


def _rank_auc(ranks: np.ndarray, member: np.ndarray) -> np.ndarray:
    """AUC of each row of ``ranks`` (one feature's ranks over the applications) for telling
    members from the rest: the Mann-Whitney U statistic over its largest value."""
    n1, n0 = int(member.sum()), int((~member).sum())
    return (ranks[:, member].sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)


# -- entry points -----------------------------------------------------------------------------


def assess(
    decisions: pd.DataFrame,
    contract: DatasetContract,
    config: FairnessConfig = FairnessConfig(),
) -> FairnessReport:
    """Fairness figures of a decisions frame: ``decision`` (rule_reject / approve / reject /
    review), ``score`` (risk), the protected columns, and optionally ``rule_id``, ``bad``
    (the outcome, empty until it arrives: :func:`with_outcomes`) and ``final_decision``
    (reviewers' approve / reject, empty until reviewed)."""
    groups = protected_groups(decisions, contract)
    bad_all = decisions[BAD].to_numpy(dtype=float) if BAD in decisions else None
    score = decisions["score"].to_numpy(dtype=float) if "score" in decisions else None
    tables, found = [], []
    for stage, (reached, approved) in funnel_stages(decisions).items():
        if not reached.any():
            continue
        bad = bad_all[reached] if bad_all is not None else None
        risk = score[reached] if score is not None and stage == AUTOMATIC else None
        for attribute, labels in groups.items():
            table = _group_table(labels[reached], approved[reached], bad, risk, config)
            found += _stage_disparities(stage, attribute, table)
            tables.append(table.assign(stage=stage, attribute=attribute))
    rules, rule_found = rule_impact(decisions, contract, groups, config)
    first = ["stage", "attribute", "group"]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=first)
    return FairnessReport(
        groups=table[first + [c for c in table.columns if c not in first]],
        disparities=found + rule_found,
        rule_impact=rules,
        proxies=pd.DataFrame(columns=PROXY_COLUMNS),
        config=config,
    )


def with_outcomes(
    decisions: pd.DataFrame, outcomes: pd.DataFrame, contract: DatasetContract
) -> pd.DataFrame:
    """Decisions with column ``bad``: 1 for a bad outcome, 0 for a good one, empty where the
    outcome (``raw_outcomes``: id and target) has not arrived."""
    target = outcomes.set_index(contract.id_column)[contract.target.column]
    positive = decisions[contract.id_column].map(target).astype(float)
    bad = positive if contract.target.positive_means == "default" else 1 - positive
    return decisions.assign(**{BAD: bad})


def holdout_decisions(
    holdout: pd.DataFrame,
    risk: np.ndarray,
    bad: np.ndarray,
    thresholds: Thresholds,
    contract: DatasetContract,
) -> pd.DataFrame:
    """The decisions a model with ``thresholds`` makes on labelled holdout rows (rule rejects
    are already out of the training table): the frame :func:`assess` reads."""
    protected = contract.resolve_protected(list(holdout.columns))
    frame = holdout[protected].reset_index(drop=True)
    frame["decision"] = thresholds.decide(np.asarray(risk, dtype=float))
    frame["score"] = np.asarray(risk, dtype=float)
    frame[BAD] = np.asarray(bad, dtype=bool)
    return frame


def assess_holdout(
    holdout: pd.DataFrame,
    risk: np.ndarray,
    bad: np.ndarray,
    thresholds: Thresholds,
    contract: DatasetContract,
    config: FairnessConfig = FairnessConfig(),
) -> FairnessReport:
    """A model version's fairness on the holdout (what the promotion gate reads), with the
    features that are proxies for a protected attribute (what the model report lists)."""
    report = assess(holdout_decisions(holdout, risk, bad, thresholds, contract), contract, config)
    report.proxies = proxy_strengths(holdout, contract, config)
    return report
