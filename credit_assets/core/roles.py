"""The roles of the platform's people and systems (``docs/webapp.md``), apart from the
access code so that the command line can name them without loading the database layer."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Each role may do what the ones before it may, and more."""

    viewer = "viewer"  # dashboards
    reviewer = "reviewer"  # works the review queue
    data_scientist = "data_scientist"  # launches runs, reads models and reports
    admin = "admin"  # users, gate policy, promote and roll back models

    def at_least(self, other: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(other)
