"""The async API, mirroring the original rate-sync library's limiter."""

from __future__ import annotations

import asyncio
import collections
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Deque, Optional

from . import _async
from ._core import QUERY_SECONDS, on_configure, Process, no_reply_error, process
from ._model import LimiterInfo, LimiterState, effective_timeout, grant_of, listen_time, value_of
from ._protocol import acquire_message, cancel_message, check_acquire_args, check_ids, query_message, timeout_ms


class Permit:
    """A granted permit. ``await permit.release()`` frees its concurrency slot (a no-op for pure rate limiters)."""

    def __init__(self, limiter: "Limiter", lease: Optional[str], granted_at: float, coordinator: Optional[str]) -> None:
        self.limiter_id = limiter.id
        self.lease = lease
        #: When the coordinator granted it, epoch seconds.
        self.granted_at = granted_at
        #: The id of the coordinator that granted it: its release and renewals go to that coordinator.
        self.coordinator = coordinator
        self._limiter = limiter
        self._released = lease is None

    @property
    def lost(self) -> bool:
        """True when the coordinator reclaimed the lease (it could not be renewed in time)."""
        return self.lease is not None and process().leases.was_lost(self.lease)

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._limiter._forget(self)
        await _async.channel().release(self.lease, self.coordinator)  # type: ignore[arg-type]

    async def __aenter__(self) -> "Permit":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.release()


class Limiter:
    """A limiter of the coordinator, for asyncio code. Get one with ``get_limiter`` or ``get_or_clone_limiter``."""

    def __init__(self, info: LimiterInfo) -> None:
        self.info = info
        self.id = info.id
        self._held: Deque[Permit] = collections.deque()

    @property
    def default_timeout(self) -> Optional[float]:
        return self.info.default_timeout

    @property
    def max_concurrent(self) -> Optional[int]:
        return self.info.config.get("maxConcurrent")

    async def acquire(self, timeout: Optional[float] = None, cost: int = 1) -> Permit:
        """Waits for a permit, FIFO with every other client of this limiter key.

        ``timeout``: seconds (0: one try, ``math.inf``: forever); None: the limiter's ``timeout``, else forever.
        Raises RateLimitTimeoutError (a TimeoutError) when none comes in time, CoordinatorUnavailableError
        when no coordinator answers.
        """
        check_acquire_args(self.id, timeout, cost)
        wait = effective_timeout(self.info, timeout)
        proc = process()
        channel = _async.channel()
        request_id = proc.next_id()
        message = acquire_message(proc.client_id, channel.name, request_id, self.info.base, self.info.key, cost, wait, proc.config.reply_grace)
        start = time.monotonic()
        try:
            reply = await channel.request(message, proc.keys.requests, listen_time(wait, proc.config.reply_grace))
        except asyncio.CancelledError:
            await asyncio.shield(_cancel(channel, proc, request_id))
            raise
        if reply is None:
            await _cancel(channel, proc, request_id)
            alive = await channel.coordinator_alive()
            raise no_reply_error(proc, f"the acquire of {self.id!r}", time.monotonic() - start, alive, self.id, timeout_ms(wait))
        grant = grant_of(reply)
        permit = Permit(self, grant.get("lease"), float(grant["grantedAt"]) / 1000, reply.coordinator)
        if permit.lease is not None:
            proc.leases.add(permit.lease, reply.coordinator, self.info.lease_seconds)
            self._held.append(permit)
        return permit

    async def try_acquire(self, timeout: float = 0, cost: int = 1) -> bool:
        """True when a permit was granted within ``timeout`` seconds (default: one try); release it with ``release()``."""
        from ._errors import RateLimitTimeoutError

        try:
            await self.acquire(timeout=timeout, cost=cost)
            return True
        except RateLimitTimeoutError:
            return False

    @asynccontextmanager
    async def acquire_context(self, timeout: Optional[float] = None, cost: int = 1) -> AsyncIterator[Permit]:
        """``async with limiter.acquire_context(timeout=30.0):`` holds a permit for the block and releases it after."""
        permit = await self.acquire(timeout=timeout, cost=cost)
        try:
            yield permit
        finally:
            await permit.release()

    async def release(self) -> None:
        """Releases one permit taken by this limiter object in this process (a no-op when none is held)."""
        if self._held:
            await self._held[0].release()

    async def get_state(self) -> LimiterState:
        proc = process()
        channel = _async.channel()
        start = time.monotonic()
        message = query_message("state", proc.client_id, channel.name, proc.next_id(), self.info.base, self.info.key, QUERY_SECONDS)
        reply = await channel.request(message, proc.keys.requests, QUERY_SECONDS)
        return LimiterState.from_wire(value_of(reply, proc, f"the state of {self.id!r}", time.monotonic() - start))

    def _forget(self, permit: Permit) -> None:
        try:
            self._held.remove(permit)
        except ValueError:
            pass

    def __repr__(self) -> str:
        return f"<ratesync_bridge.Limiter {self.id!r}>"


async def _cancel(channel: "_async.AsyncChannel", proc: Process, request_id: str) -> None:
    try:
        await channel.push(proc.keys.requests, cancel_message(proc.client_id, request_id))
    except Exception:  # best effort: the coordinator drops the request at its deadline anyway
        pass


#: Limiters handed out, most recently used last: repeated calls return the same object, and a
#: process that touches millions of per-user keys keeps only the last LIMITER_CACHE_SIZE.
_limiters: "collections.OrderedDict[str, Limiter]" = collections.OrderedDict()
LIMITER_CACHE_SIZE = 4096
on_configure.append(_limiters.clear)


def _remember(key: str, limiter: Limiter) -> Limiter:
    limiter = _limiters.setdefault(key, limiter)
    _limiters.move_to_end(key)
    while len(_limiters) > LIMITER_CACHE_SIZE:
        _limiters.popitem(last=False)
    return limiter


async def _describe(base: str, unique: Optional[str], timeout: float) -> LimiterInfo:
    proc = process()
    channel = _async.channel()
    start = time.monotonic()
    message = query_message("describe", proc.client_id, channel.name, proc.next_id(), base, unique, timeout)
    reply = await channel.request(message, proc.keys.requests, timeout)
    return LimiterInfo.from_wire(value_of(reply, proc, f"the lookup of limiter {base!r}", time.monotonic() - start))


async def get_limiter(limiter_id: str, *, timeout: float = QUERY_SECONDS) -> Limiter:
    """The limiter declared as ``limiter_id`` in the coordinator's configuration (LimiterNotFoundError otherwise)."""
    check_ids(limiter_id, None)
    cached = _limiters.get(limiter_id)
    if cached is not None:
        return cached
    return _remember(limiter_id, Limiter(await _describe(limiter_id, None, timeout)))


async def get_or_clone_limiter(base: str, unique: str, *, timeout: float = QUERY_SECONDS) -> Limiter:
    """The per-key limiter ``base:unique``: the settings of ``base``, its own state. Same object on repeated calls."""
    check_ids(base, unique)
    key = f"{base}:{unique}"
    cached = _limiters.get(key)
    if cached is not None:
        return cached
    return _remember(key, Limiter(await _describe(base, unique, timeout)))
