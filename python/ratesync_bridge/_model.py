"""What the API hands out: limiter settings, state snapshots, and the pieces of an acquire that
the async and the synchronous clients share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from ._core import Process, no_reply_error
from ._errors import ProtocolError
from ._protocol import Reply


@dataclass(frozen=True)
class LimiterInfo:
    """A limiter as the coordinator describes it. ``config`` holds its settings (camelCase keys, as in Node)."""

    id: str
    base: str
    key: Optional[str]
    config: Mapping[str, Any]

    @classmethod
    def from_wire(cls, value: Any) -> "LimiterInfo":
        if not isinstance(value, dict) or not isinstance(value.get("config"), dict):
            raise ProtocolError(f"Unexpected describe answer from the coordinator: {value!r}")
        key = value.get("key")
        return cls(str(value["id"]), str(value["base"]), key if isinstance(key, str) else None, value["config"])

    @property
    def default_timeout(self) -> Optional[float]:
        """The limiter's ``timeout`` in seconds (None: wait forever)."""
        t = self.config.get("timeout")
        return None if t is None else float(t)

    @property
    def lease_seconds(self) -> float:
        return float(self.config.get("leaseSeconds", 60))


@dataclass(frozen=True)
class LimiterState:
    """What the limiter would do now, consuming nothing. Times are epoch seconds."""

    limiter: str
    #: Whether a request of cost 1 would be granted now.
    allowed: bool
    #: Units that could be granted now.
    remaining: int
    #: When one more unit can be granted (now when allowed).
    retry_at: float
    #: When the limiter is back to full capacity.
    reset_at: float
    #: Lease units held (limiters with max_concurrent).
    in_flight: int
    #: Requests waiting on this key.
    waiting: int

    @classmethod
    def from_wire(cls, value: Any) -> "LimiterState":
        if not isinstance(value, dict):
            raise ProtocolError(f"Unexpected state answer from the coordinator: {value!r}")
        return cls(
            limiter=str(value["limiter"]),
            allowed=bool(value["allowed"]),
            remaining=int(value["remaining"]),
            retry_at=float(value["retryAt"]) / 1000,
            reset_at=float(value["resetAt"]) / 1000,
            in_flight=int(value["inFlight"]),
            waiting=int(value["waiting"]),
        )


def effective_timeout(info: LimiterInfo, timeout: Optional[float]) -> Optional[float]:
    """``None``: the limiter's own ``timeout``, else forever (None). ``math.inf``: forever."""
    if timeout is None:
        return info.default_timeout
    return None if timeout == math.inf else float(timeout)


def listen_time(timeout: Optional[float], grace: float) -> Optional[float]:
    return None if timeout is None else timeout + grace


def grant_of(reply: Reply) -> Dict[str, Any]:
    if reply.error is not None:
        raise reply.error
    if not isinstance(reply.value, dict) or "grantedAt" not in reply.value:
        raise ProtocolError(f"Unexpected acquire answer from the coordinator: {reply.value!r}")
    return reply.value


def value_of(reply: Optional[Reply], proc: Process, what: str, waited: float) -> Any:
    if reply is None:
        raise no_reply_error(proc, what, waited, False, "", None)
    if reply.error is not None:
        raise reply.error
    return reply.value
