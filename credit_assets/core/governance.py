"""Who moved a model alias, on the platform's own record.

The registry keeps its alias history in tags that anyone with registry access can edit, and
a direct alias change through MLflow leaves no event. So every move the platform makes (the
gates in ``champion_model``, ``credit-assets model promote|rollback`` by an admin) is also an
event in the append-only audit log, and a champion that differs from the last recorded move
was moved outside the platform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from credit_assets.core.access import Access, AccessError, Principal, Role
from credit_assets.core.audit import AuditLog

if TYPE_CHECKING:  # the registry imports MLflow; the code location must not
    from credit_assets.core.registry import AliasChange

ALIAS_MOVE = "model.alias"


def admin_of(access: Access, token: str | None) -> Principal:
    """The admin an access token belongs to; promotion and rollback by hand need one."""
    who = access.token(token) if token else None
    if who is None:
        raise AccessError("an admin's access token is needed ('credit-assets users token')")
    if not who.may(Role.admin):
        raise AccessError(f"{who.username} is {who.role.value}; only an admin moves the champion")
    return who


def record_alias_move(audit: AuditLog, dataset: str, change: AliasChange) -> None:
    audit.record(
        change.by,
        ALIAS_MOVE,
        f"{dataset}/{change.alias}",
        move=change.action,
        version=change.version,
        previous=change.previous,
        reason=change.reason,
    )


def recorded_alias(audit: AuditLog, dataset: str, alias: str) -> str | None:
    """The version the platform last moved ``alias`` to (None: it never moved it)."""
    events = audit.events(action=ALIAS_MOVE, target=f"{dataset}/{alias}", limit=1)
    return str(events[0].detail["version"]) if events else None


def moved_outside(registry_version: str | None, recorded: str | None) -> str | None:
    """Why an alias looks moved outside the platform, or None when the records agree."""
    if registry_version == recorded or (recorded is None and registry_version is None):
        return None
    if recorded is None:
        return f"v{registry_version} was never made champion through the platform"
    return (
        f"the registry says v{registry_version or '–'} but the platform last moved it to "
        f"v{recorded}: it was moved outside the platform"
    )
