"""A second synthetic dataset, of another shape than Santander: a credit-card product.

About a thousand rows, twelve categorical columns whose levels hold spaces and symbols
(``"self-employed / freelance"``, ``"£ < 1k"``, ``"O'Brien & Co"``), two numeric columns, a
string target (``repaid`` / ``defaulted``), a protected attribute (``gender``, never a feature)
and one business rule (``C01``: unemployed applicants are rejected). Its contract is packaged
as ``credit_assets/contracts/cards.yaml``.

The log-odds of default are a sum of per-level effects plus the two numeric columns' effects,
so the true P(default | x) is known; it is written beside the data (``truth/``), as the
Santander generator does. Gender moves the income distribution a little (as pay gaps do), so
a model that never sees gender can still approve the groups at different rates: what a
fairness check is for.

Layout (``core/dataset.py``): ``history/train.csv``, ``applications/DATE.csv`` (no target),
``outcomes/DATE.csv`` (id, target) arriving ``outcome_lag_days`` after their applications.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from credit_assets.core.io import write_csv_atomic

ID, TARGET, PROTECTED = "card_id", "outcome", "gender"
REPAID, DEFAULTED = "repaid", "defaulted"
DEFAULT_RATE = 0.20
# Scales every effect below: a true AUC of about 0.86, of which a model fitted on a few
# hundred rows learns about 0.8.
SIGNAL = 1.4

# column -> level -> (share of applicants, effect on the log-odds of default)
LEVELS: dict[str, dict[str, tuple[float, float]]] = {
    "employment": {
        "salaried": (0.55, -0.4),
        "self-employed / freelance": (0.18, 0.3),
        "retired": (0.12, -0.2),
        "student": (0.10, 0.5),
        "unemployed – seeking work": (0.05, 1.2),
    },
    "income_band": {
        "£ < 1k": (0.15, 0.9),
        "£1k–2k": (0.30, 0.3),
        "£2k–4k": (0.35, -0.3),
        "£4k+ (gross)": (0.20, -0.8),
    },
    "current_bank": {
        "Barclays": (0.25, 0.0),
        "O'Brien & Co": (0.10, 0.4),
        "Lloyds/TSB": (0.25, 0.0),
        "HSBC (UK)": (0.25, -0.1),
        "other / none": (0.15, 0.3),
    },
    "housing": {
        "owner – mortgage": (0.35, -0.4),
        "owner – outright": (0.15, -0.6),
        "renting (private)": (0.30, 0.3),
        "renting (council)": (0.10, 0.5),
        "living with parents": (0.10, 0.2),
    },
    "marital_status": {
        "single": (0.40, 0.1),
        "married / civil partnership": (0.45, -0.1),
        "divorced": (0.10, 0.2),
        "widowed": (0.05, 0.0),
    },
    "education": {
        "GCSE / O-level": (0.25, 0.2),
        "A-level": (0.25, 0.1),
        "bachelor's": (0.35, -0.1),
        "master's +": (0.10, -0.3),
        "no formal qualification": (0.05, 0.4),
    },
    "channel": {
        "web": (0.45, 0.0),
        "mobile app": (0.30, 0.1),
        "branch": (0.15, -0.2),
        "broker (3rd party)": (0.10, 0.4),
    },
    "card_type": {
        "classic": (0.50, 0.1),
        "gold ★": (0.25, -0.2),
        "platinum ★★": (0.10, -0.4),
        "student": (0.15, 0.3),
    },
    "region": {  # no effect: a column a model should learn to ignore
        "London & SE": (0.30, 0.0),
        "N. Ireland": (0.05, 0.0),
        "Scotland": (0.10, 0.0),
        "Wales": (0.07, 0.0),
        "Midlands": (0.25, 0.0),
        "North-East": (0.23, 0.0),
    },
    "previous_default": {
        "never": (0.80, -0.5),
        "1 × in 5 yrs": (0.15, 0.8),
        "2+ × in 5 yrs": (0.05, 1.8),
    },
    "credit_history": {
        "< 1 yr": (0.15, 0.6),
        "1–3 yrs": (0.25, 0.2),
        "3–10 yrs": (0.35, -0.2),
        "10+ yrs": (0.25, -0.5),
    },
    "purpose": {
        "everyday spending": (0.45, 0.0),
        "balance transfer": (0.25, 0.4),
        "travel & holidays": (0.15, -0.1),
        'emergencies ("just in case")': (0.15, 0.3),
    },
}
GENDERS = ("female", "male", "non-binary / other")
# Gender shifts income: women's applicants a band lower more often.
_LOWER_INCOME_SHARE = {"female": 0.25, "male": 0.0, "non-binary / other": 0.10}


def contract_path() -> Traversable:
    """The packaged contract of this dataset."""
    return resources.files("credit_assets.contracts").joinpath("cards.yaml")


def _draw(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Applicants and their log-odds of default before the intercept."""
    gender = rng.choice(GENDERS, n, p=[0.48, 0.48, 0.04])
    columns: dict[str, np.ndarray] = {}
    logit = np.zeros(n)
    for column, levels in LEVELS.items():
        names = list(levels)
        shares = np.array([levels[level][0] for level in names])
        effects = np.array([levels[level][1] for level in names])
        picked = rng.choice(len(names), n, p=shares / shares.sum())
        if column == "income_band":
            lower = rng.random(n) < np.vectorize(_LOWER_INCOME_SHARE.get)(gender)
            picked = np.where(lower, np.maximum(picked - 1, 0), picked)
        columns[column] = np.array(names, dtype=object)[picked]
        logit += effects[picked]
    age = rng.integers(18, 86, n)
    limit = np.round(np.exp(rng.normal(np.log(3000), 0.7, n)), -2)
    logit += -0.02 * (age - 45) + 0.5 * np.log(limit / 3000)
    frame = pd.DataFrame({**columns, "age": age, "requested_limit": limit, PROTECTED: gender})
    return frame, SIGNAL * logit


def generate_cards(
    out_dir: str | Path,
    rows: int = 1000,
    days: int = 5,
    rows_per_day: int = 100,
    start: dt.date = dt.date(2026, 11, 1),
    seed: int = 0,
    outcome_lag_days: int = 1,
) -> dict[str, int]:
    """Write ``rows`` history rows, ``days`` daily batches of applications and the outcomes
    that have arrived by the last day under ``out_dir``; return row counts by kind."""
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    total = rows + days * rows_per_day
    frame, logit = _draw(total, rng)
    # the intercept that gives the product its default rate
    intercept = brentq(lambda b: expit(logit + b).mean() - DEFAULT_RATE, -20, 20)
    p_true = expit(logit + intercept)
    defaulted = rng.random(total) < p_true
    ids = [f"C{i:06d}" for i in range(total)]
    frame.insert(0, ID, ids)
    truth = pd.DataFrame({ID: ids, "p_true": p_true})
    outcome = pd.DataFrame({ID: ids, TARGET: np.where(defaulted, DEFAULTED, REPAID)})

    history = pd.concat([frame[[ID]], outcome[[TARGET]], frame.drop(columns=ID)], axis=1)
    write_csv_atomic(history.iloc[:rows], out / "history" / "train.csv")
    write_csv_atomic(truth.iloc[:rows], out / "truth" / "history.csv")
    counts = {"history": rows, "applications": 0, "outcomes": 0}
    last = start + dt.timedelta(days=days - 1)
    for d in range(days):
        day = start + dt.timedelta(days=d)
        batch = slice(rows + d * rows_per_day, rows + (d + 1) * rows_per_day)
        write_csv_atomic(frame.iloc[batch], out / "applications" / f"{day.isoformat()}.csv")
        write_csv_atomic(truth.iloc[batch], out / "truth" / "applications" / f"{day}.csv")
        counts["applications"] += rows_per_day
        arrival = day + dt.timedelta(days=outcome_lag_days)
        if arrival <= last:
            write_csv_atomic(outcome.iloc[batch], out / "outcomes" / f"{arrival.isoformat()}.csv")
            counts["outcomes"] += rows_per_day
    return counts
