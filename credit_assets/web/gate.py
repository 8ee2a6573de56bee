"""Dagster's webserver behind the platform's login.

Dagster OSS has no login: its GraphQL endpoint launches, terminates and wipes. This ASGI
wrapper admits only authenticated principals, and lets through GraphQL ``query`` and
``subscription`` operations for every role but a ``mutation`` only for ``data_scientist`` and
above, whether it comes as an HTTP POST, a GET's ``query`` parameter or a websocket message.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from credit_assets.core.access import Principal, Role
from credit_assets.core.registry_names import LAUNCHED_BY_TAG

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Authenticate = Callable[[Scope], Awaitable[Principal | None]]

MUTATING_ROLE = Role.data_scientist
MAX_BODY = 4 * 1024 * 1024


def has_mutation(document: str, operation_name: str | None = None) -> bool:
    """Whether the operation a GraphQL request would run is a mutation. A document that does
    not parse counts as one: refusing is safe, Dagster would refuse it anyway."""
    from graphql import OperationDefinitionNode, OperationType, parse
    from graphql.error import GraphQLError

    try:
        parsed = parse(document)
    except GraphQLError:
        return True
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [
            o for o in operations if o.name and o.name.value == operation_name
        ] or operations
    return any(o.operation == OperationType.MUTATION for o in operations)


def _requests(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):  # application/graphql: the body is the document
        return [{"query": body.decode(errors="replace")}]
    items = data if isinstance(data, list) else [data]
    return [i if isinstance(i, dict) else {"query": ""} for i in items]


def _mutates(payloads: list[dict[str, Any]]) -> bool:
    return any(has_mutation(str(p.get("query") or ""), p.get("operationName")) for p in payloads)


async def _deny(send: Send, status: int, message: str) -> None:
    body = json.dumps({"errors": [{"message": message}]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class DagsterGate:
    """Wrap Dagster's ASGI app; ``authenticate`` reads the session cookie or bearer token."""

    def __init__(self, app: ASGIApp, authenticate: Authenticate, login_path: str) -> None:
        self.app = app
        self.authenticate = authenticate
        self.login_path = login_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        principal = await self.authenticate(scope)
        if scope["type"] == "websocket":
            if principal is None:
                await send({"type": "websocket.close", "code": 4401})
                return
            await self.app(scope, self._guard_messages(receive, principal), send)
            return
        if principal is None:
            if scope["method"] == "GET" and not scope["path"].endswith("/graphql"):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 303,
                        "headers": [(b"location", self.login_path.encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
            await _deny(send, 401, "log in or send an access token")
            return
        if scope["path"].endswith("/graphql"):
            if scope["method"] == "GET":
                query = parse_qs(scope.get("query_string", b"").decode())
                payloads = [{"query": q} for q in query.get("query", [])]
            else:
                body = await _read(receive)
                if body is None:
                    await _deny(send, 413, "request too large")
                    return
                payloads = _requests(body)
                if principal.may(MUTATING_ROLE):
                    body = stamp_launcher(body, principal.username)
                    scope = _with_length(scope, len(body))
                receive = _replay(body)
            if not principal.may(MUTATING_ROLE) and _mutates(payloads):
                await _deny(send, 403, f"role {principal.role} may run GraphQL queries only")
                return
        await self.app(scope, receive, send)

    def _guard_messages(self, receive: Receive, principal: Principal) -> Receive:
        """Close a websocket that carries a mutation from a role that may not mutate."""

        async def guarded() -> dict[str, Any]:
            message = await receive()
            if principal.may(MUTATING_ROLE) or message.get("type") != "websocket.receive":
                return message
            try:
                frame = json.loads(message.get("text") or message.get("bytes") or b"{}")
            except ValueError:
                frame = {}
            payload = frame.get("payload") if isinstance(frame, dict) else None
            if isinstance(payload, dict) and payload.get("query") and _mutates([payload]):
                return {"type": "websocket.disconnect", "code": 4403}
            return message

        return guarded


def stamp_launcher(body: bytes, username: str) -> bytes:
    """The request with every launch's ``credit/launched_by`` tag set to the authenticated
    user, over whatever the launcher wrote: the tag the promotion records as who promoted."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    changed = False
    for item in data if isinstance(data, list) else [data]:
        variables = item.get("variables") if isinstance(item, dict) else None
        params = variables.get("executionParams") if isinstance(variables, dict) else None
        if not isinstance(params, dict):
            continue
        metadata = params.setdefault("executionMetadata", {}) or {}
        params["executionMetadata"] = metadata
        tags = [t for t in metadata.get("tags") or [] if t.get("key") != LAUNCHED_BY_TAG]
        metadata["tags"] = [*tags, {"key": LAUNCHED_BY_TAG, "value": username}]
        changed = True
    return json.dumps(data).encode() if changed else body


def _with_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    return {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}


async def _read(receive: Receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
