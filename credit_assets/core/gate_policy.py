"""Promotion gate bounds as governed policy: versioned, set only by an admin, audited.

A run's own promotion settings can only make the gates stricter (:meth:`Policy.tighten`), so
whoever may launch a training run cannot relax what a model must pass to become champion.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import sqlalchemy as sa

from credit_assets.core.audit import audit_row
from credit_assets.core.decision_log import DecisionLog
from credit_assets.core.decision_log_schema import audit_log, gate_policy
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.gates import GateConfig

# Bounds a model must reach from below (a larger bound is stricter); the others are upper
# bounds or tolerances (a smaller one is stricter).
_LOWER_BOUNDS = frozenset({"min_auc", "min_automation_rate", "min_selection_rate_ratio"})


class PolicyError(CreditAssetsError):
    """Gate bounds that are not GateConfig's fields or not numbers."""


@dataclass(frozen=True)
class Policy:
    dataset: str
    version: int  # 0: nobody has set one, the defaults apply
    gates: GateConfig
    set_by: str
    set_at: dt.datetime | None
    reason: str

    @property
    def bounds(self) -> dict[str, Any]:
        return asdict(self.gates)

    def tighten(self, requested: GateConfig) -> GateConfig:
        """The policy's gates, made stricter where ``requested`` is stricter, never looser."""
        out = self.gates
        for f in fields(GateConfig):
            mine, theirs = getattr(self.gates, f.name), getattr(requested, f.name)
            if theirs is None:
                continue
            if mine is None:
                stricter = theirs
            elif f.name in _LOWER_BOUNDS:
                stricter = max(mine, theirs)
            else:
                stricter = min(mine, theirs)
            out = replace(out, **{f.name: stricter})
        return out


def parse_bounds(values: dict[str, Any]) -> GateConfig:
    names = {f.name for f in fields(GateConfig)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise PolicyError(
            f"unknown gate bound(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )
    for name, value in values.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise PolicyError(f"gate bound {name} must be a number, got {value!r}")
    return GateConfig(**values)


class GatePolicies:
    def __init__(self, log: DecisionLog) -> None:
        self.log = log

    def current(self, dataset: str) -> Policy:
        query = (
            sa.select(gate_policy)
            .where(gate_policy.c.dataset == dataset)
            .order_by(gate_policy.c.version.desc())
            .limit(1)
        )
        with self.log.transaction() as conn:
            row = conn.execute(query).first()
        if row is None:
            return Policy(dataset, 0, GateConfig(), "default", None, "the platform's defaults")
        at = row.set_at if row.set_at.tzinfo else row.set_at.replace(tzinfo=dt.UTC)
        return Policy(
            dataset, row.version, parse_bounds(json.loads(row.bounds)), row.set_by, at, row.reason
        )

    def set(self, dataset: str, values: dict[str, Any], *, by: str, reason: str) -> Policy:
        """A new version of ``dataset``'s policy (fields not given keep the defaults). The
        caller has checked that ``by`` is an admin; the change is audited."""
        if not reason.strip():
            raise PolicyError("a gate policy change needs a reason")
        gates = parse_bounds(values)
        now = dt.datetime.now(dt.UTC)
        before = self.current(dataset)
        with self.log.transaction() as conn:
            conn.execute(
                gate_policy.insert(),
                {
                    "dataset": dataset,
                    "bounds": json.dumps(asdict(gates), sort_keys=True),
                    "set_by": by,
                    "set_at": now,
                    "reason": reason.strip(),
                },
            )
            conn.execute(
                audit_log.insert(),
                audit_row(
                    by,
                    "policy.set",
                    dataset,
                    before=before.bounds,
                    after=asdict(gates),
                    reason=reason.strip(),
                ),
            )
        return self.current(dataset)
