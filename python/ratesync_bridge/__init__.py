"""rate-sync bridge: Python code (Celery workers, asyncio services) shares the quotas of a rate-sync
coordinator (``ratesync serve``) through Redis lists.

The async API mirrors the original rate-sync library, so its code ports by changing the import::

    from ratesync_bridge import get_or_clone_limiter

    limiter = await get_or_clone_limiter("github_api", "worker")
    await limiter.acquire(timeout=30.0)            # raises TimeoutError (RateLimitTimeoutError)
    async with limiter.acquire_context(timeout=30.0): ...
    if not await limiter.try_acquire(timeout=0): return

Synchronous code uses ``ratesync_bridge.sync``; Celery tasks can use ``ratesync_bridge.celery.rate_limited``.
"""

from ._alimiter import Limiter, Permit, get_limiter, get_or_clone_limiter
from ._config import BridgeConfig
from ._core import configure
from ._errors import (
    ConfigError,
    CoordinatorUnavailableError,
    InvalidArgumentError,
    LimiterNotFoundError,
    ProtocolError,
    RateLimitTimeoutError,
    RateSyncError,
    StoreUnavailableError,
)
from ._model import LimiterInfo, LimiterState

__version__ = "0.1.0"

__all__ = [
    "BridgeConfig",
    "ConfigError",
    "CoordinatorUnavailableError",
    "InvalidArgumentError",
    "Limiter",
    "LimiterInfo",
    "LimiterNotFoundError",
    "LimiterState",
    "Permit",
    "ProtocolError",
    "RateLimitTimeoutError",
    "RateSyncError",
    "StoreUnavailableError",
    "configure",
    "get_limiter",
    "get_or_clone_limiter",
]
