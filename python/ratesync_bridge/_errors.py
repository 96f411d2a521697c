"""Errors with stable codes, the same as the Node library's (docs/protocol.md).

Match on the class or on ``err.code``; messages may be reworded, codes never change.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type


class RateSyncError(Exception):
    """Every error of the bridge client."""

    code = "ERR_RATE_SYNC"

    def __init__(self, message: str, details: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: Dict[str, Any] = dict(details or {})

    def __reduce__(self) -> Any:
        # Celery and multiprocessing pickle exceptions: keep the details.
        return (type(self), (self.message, self.details))


class RateLimitTimeoutError(RateSyncError, TimeoutError):
    """No permit within the timeout. A ``TimeoutError``, so ``except TimeoutError`` catches it."""

    code = "ERR_RATE_LIMIT_TIMEOUT"

    @property
    def limiter_id(self) -> str:
        return str(self.details.get("limiterId", ""))

    @property
    def timeout(self) -> float:
        """The wait that ran out, in seconds."""
        return float(self.details.get("timeoutMs", 0)) / 1000


class CoordinatorUnavailableError(RateSyncError, ConnectionError):
    """No coordinator answered (none runs, or Redis cannot be reached), or it shut down."""

    code = "ERR_COORDINATOR_UNAVAILABLE"

    @property
    def list_key(self) -> Optional[str]:
        """The Redis list the request was pushed to."""
        value = self.details.get("list")
        return None if value is None else str(value)


class LimiterNotFoundError(RateSyncError, LookupError):
    code = "ERR_LIMITER_NOT_FOUND"

    @property
    def limiter_id(self) -> str:
        return str(self.details.get("limiterId", ""))


class InvalidArgumentError(RateSyncError, ValueError):
    code = "ERR_INVALID_ARGUMENT"


class ConfigError(RateSyncError):
    """The bridge configuration (``[bridge]`` of rate-sync.toml, ``RATE_SYNC_BRIDGE_URL``) is missing or invalid."""

    code = "ERR_RATE_SYNC_CONFIG"


class StoreUnavailableError(RateSyncError):
    code = "ERR_STORE_UNAVAILABLE"


class ProtocolError(RateSyncError):
    """A message did not follow the bridge protocol."""

    code = "ERR_PROTOCOL"


_BY_CODE: Dict[str, Type[RateSyncError]] = {
    cls.code: cls
    for cls in (
        RateSyncError,
        RateLimitTimeoutError,
        CoordinatorUnavailableError,
        LimiterNotFoundError,
        InvalidArgumentError,
        ConfigError,
        StoreUnavailableError,
        ProtocolError,
    )
}


def error_from_wire(wire: Mapping[str, Any]) -> RateSyncError:
    """Rebuilds an error from its wire form ``{code, message, details}``; unknown codes give RateSyncError."""
    cls = _BY_CODE.get(str(wire.get("code")), RateSyncError)
    details = wire.get("details")
    return cls(str(wire.get("message", "")), details if isinstance(details, Mapping) else None)
