"""The bridge's wire format (docs/bridge-protocol.md): keys, messages, replies.

Pure functions, no I/O, checked against the shared vectors in ``test/vectors/bridge-messages.json``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from importlib import resources
from typing import Any, Dict, List, Mapping, Optional, Union

from ._errors import ProtocolError, RateSyncError, error_from_wire

VERSION = 1
#: Longest message the coordinator reads (the push script refuses longer ones at once).
MAX_MESSAGE_BYTES = 64 * 1024
#: A coordinator's own list expires this long after its last message (a dead coordinator's list goes away).
COORDINATOR_LIST_TTL_MS = 60_000
MAX_LIMITER_LENGTH = 128
MAX_KEY_LENGTH = 256
MAX_COST = 1_000_000
NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")

#: The Lua script every message is pushed with: it stamps the message with Redis TIME.
PUSH_SCRIPT = resources.files(__package__).joinpath("push.lua").read_text(encoding="utf-8")
PUSH_SHA = hashlib.sha1(PUSH_SCRIPT.encode("utf-8")).hexdigest()

RequestId = Union[str, int]


class Keys:
    """The Redis keys of one namespace; all start with ``<namespace>:bridge:``."""

    def __init__(self, namespace: str) -> None:
        self.prefix = f"{namespace}:bridge:"
        self.requests = f"{self.prefix}requests"
        self.coordinators = f"{self.prefix}coordinators"

    def coordinator(self, coordinator_id: str) -> str:
        return f"{self.prefix}coordinator:{coordinator_id}"

    def reply(self, channel: str) -> str:
        return f"{self.prefix}reply:{channel}"


def _envelope(client: str, reply: Optional[str], kind: str, request_id: Optional[RequestId]) -> Dict[str, Any]:
    # The order matters: "reply" and "id" come first, so the coordinator can still answer a
    # message it cannot parse whole (docs/bridge-protocol.md, "Garbage").
    m: Dict[str, Any] = {"v": VERSION, "client": client}
    if reply is not None:
        m["reply"] = reply
    m["type"] = kind
    if request_id is not None:
        m["id"] = request_id
    return m


def timeout_ms(timeout: Optional[float]) -> Optional[float]:
    """Seconds (``None`` or ``math.inf``: forever) → the protocol's milliseconds (``None``: forever)."""
    if timeout is None or timeout == math.inf:
        return None
    ms = timeout * 1000
    return int(ms) if ms == int(ms) else ms


def acquire_message(
    client: str,
    reply: str,
    request_id: RequestId,
    limiter: str,
    key: Optional[str],
    cost: int,
    timeout: Optional[float],
    grace: float,
) -> Dict[str, Any]:
    """``timeout``: seconds to wait (0: one try), ``None``: forever. ``grace``: how long past it the client listens."""
    m = _envelope(client, reply, "acquire", request_id)
    m["limiter"] = limiter
    if key is not None:
        m["key"] = key
    m["cost"] = cost
    ms = timeout_ms(timeout)
    m["timeoutMs"] = ms
    if ms is not None:
        ttl = ms + grace * 1000
        m["ttlMs"] = int(ttl) if ttl == int(ttl) else ttl
    return m


def query_message(
    kind: str, client: str, reply: str, request_id: RequestId, limiter: str, key: Optional[str], ttl: float
) -> Dict[str, Any]:
    """``state`` or ``describe``; ``ttl``: seconds the client listens for the answer."""
    m = _envelope(client, reply, kind, request_id)
    m["limiter"] = limiter
    if key is not None:
        m["key"] = key
    m["ttlMs"] = int(ttl * 1000)
    return m


def cancel_message(client: str, request_id: RequestId) -> Dict[str, Any]:
    return _envelope(client, None, "cancel", request_id)


def release_message(client: str, lease: str) -> Dict[str, Any]:
    m = _envelope(client, None, "release", None)
    m["lease"] = lease
    return m


def renew_message(client: str, reply: str, request_id: RequestId, leases: List[str]) -> Dict[str, Any]:
    m = _envelope(client, reply, "renew", request_id)
    m["leases"] = leases
    return m


def encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class Reply:
    """One message from a coordinator. ``id`` is None for an error not tied to a request."""

    # A plain class with slots: one is built per call, on the hot path.
    __slots__ = ("id", "ok", "value", "error", "coordinator")

    def __init__(self, id: Optional[RequestId], ok: bool, value: Any, error: Optional[RateSyncError], coordinator: Optional[str]) -> None:
        self.id = id
        self.ok = ok
        self.value = value
        self.error = error
        self.coordinator = coordinator

    def __repr__(self) -> str:
        return f"Reply(id={self.id!r}, ok={self.ok!r}, value={self.value!r}, error={self.error!r}, coordinator={self.coordinator!r})"

    @property
    def lease(self) -> Optional[str]:
        """The lease of a grant (None for other replies and for grants without one)."""
        if self.ok and isinstance(self.value, dict):
            lease = self.value.get("lease")
            return lease if isinstance(lease, str) else None
        return None


def decode_reply(raw: Union[str, bytes]) -> Reply:
    """Parses a reply; a malformed one raises ProtocolError."""
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise ProtocolError(f"Reply from the coordinator is not valid JSON: {err}") from err
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise ProtocolError(f"Unexpected reply from the coordinator (bridge protocol version {VERSION} expected): {str(raw)[:200]}")
    coordinator = data.get("coordinator") if isinstance(data.get("coordinator"), str) else None
    kind = data.get("type")
    if kind == "error":
        return Reply(None, False, None, error_from_wire(data.get("error") or {}), coordinator)
    if kind != "reply" or "id" not in data or not isinstance(data.get("ok"), bool):
        raise ProtocolError(f"Unexpected reply from the coordinator: {str(raw)[:200]}")
    if data["ok"]:
        return Reply(data["id"], True, data.get("value"), None, coordinator)
    return Reply(data["id"], False, None, error_from_wire(data.get("error") or {}), coordinator)


def check_acquire_args(limiter_id: str, timeout: Optional[float], cost: int) -> None:
    from ._errors import InvalidArgumentError

    if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout >= 0):
        raise InvalidArgumentError(f"Expected `timeout` to be a number of seconds >= 0 (or None), got {timeout!r}", {"argument": "timeout", "limiterId": limiter_id})
    if not isinstance(cost, int) or isinstance(cost, bool) or not 1 <= cost <= MAX_COST:
        raise InvalidArgumentError(f"Expected `cost` to be an integer from 1 to {MAX_COST}, got {cost!r}", {"argument": "cost", "limiterId": limiter_id})


def check_ids(base: str, unique: Optional[str]) -> None:
    from ._errors import InvalidArgumentError

    if not isinstance(base, str) or not 1 <= len(base) <= MAX_LIMITER_LENGTH:
        raise InvalidArgumentError(f"Expected a limiter id of 1..{MAX_LIMITER_LENGTH} characters, got {base!r}", {"argument": "limiter"})
    if unique is not None and (not isinstance(unique, str) or not 1 <= len(unique) <= MAX_KEY_LENGTH):
        raise InvalidArgumentError(f"Expected a unique id of 1..{MAX_KEY_LENGTH} characters, got {unique!r}", {"argument": "unique", "limiterId": base})
