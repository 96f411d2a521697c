"""The synchronous twin of the async API, for plain (non-async) code such as ordinary Celery tasks.

    from ratesync_bridge.sync import get_or_clone_limiter

    limiter = get_or_clone_limiter("external_api", "celery")
    with limiter.acquire_context(timeout=60.0):
        call_the_api()

Each thread waits on its own reply list, so threads (Celery's threads pool) need no locking.
"""

from __future__ import annotations

import collections
import threading
import time
from contextlib import contextmanager
from typing import Any, Deque, Iterator, Optional

from ._core import QUERY_SECONDS, on_configure, no_reply_error, process
from ._errors import RateLimitTimeoutError
from ._model import LimiterInfo, LimiterState, effective_timeout, grant_of, listen_time, value_of
from ._protocol import acquire_message, cancel_message, check_acquire_args, check_ids, query_message, timeout_ms

__all__ = ["Limiter", "Permit", "get_limiter", "get_or_clone_limiter"]


class Permit:
    """A granted permit. ``permit.release()`` frees its concurrency slot (a no-op for pure rate limiters)."""

    def __init__(self, limiter: "Limiter", lease: Optional[str], granted_at: float, coordinator: Optional[str]) -> None:
        self.limiter_id = limiter.id
        self.lease = lease
        #: When the coordinator granted it, epoch seconds.
        self.granted_at = granted_at
        #: The id of the coordinator that granted it: its release and renewals go to that coordinator.
        self.coordinator = coordinator
        self._limiter = limiter
        self._released = lease is None
        self._lock = threading.Lock()

    @property
    def lost(self) -> bool:
        """True when the coordinator reclaimed the lease (it could not be renewed in time)."""
        return self.lease is not None and process().leases.was_lost(self.lease)

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._limiter._forget(self)
        process().release_sync(self.lease, self.coordinator)  # type: ignore[arg-type]

    def __enter__(self) -> "Permit":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


class Limiter:
    """A limiter of the coordinator, for synchronous code."""

    def __init__(self, info: LimiterInfo) -> None:
        self.info = info
        self.id = info.id
        self._held: Deque[Permit] = collections.deque()
        self._lock = threading.Lock()

    @property
    def default_timeout(self) -> Optional[float]:
        return self.info.default_timeout

    @property
    def max_concurrent(self) -> Optional[int]:
        return self.info.config.get("maxConcurrent")

    def acquire(self, timeout: Optional[float] = None, cost: int = 1) -> Permit:
        """Blocks until a permit is granted; see the async ``Limiter.acquire`` for the arguments and errors."""
        check_acquire_args(self.id, timeout, cost)
        wait = effective_timeout(self.info, timeout)
        proc = process()
        channel = proc.channel()
        request_id = proc.next_id()
        message = acquire_message(proc.client_id, channel.name, request_id, self.info.base, self.info.key, cost, wait, proc.config.reply_grace)
        start = time.monotonic()
        reply = channel.request(message, proc.keys.requests, listen_time(wait, proc.config.reply_grace))
        if reply is None:
            try:
                channel.push(proc.keys.requests, cancel_message(proc.client_id, request_id))
            except Exception:  # best effort: the coordinator drops the request at its deadline anyway
                pass
            raise no_reply_error(proc, f"the acquire of {self.id!r}", time.monotonic() - start, channel.coordinator_alive(), self.id, timeout_ms(wait))
        grant = grant_of(reply)
        permit = Permit(self, grant.get("lease"), float(grant["grantedAt"]) / 1000, reply.coordinator)
        if permit.lease is not None:
            proc.leases.add(permit.lease, reply.coordinator, self.info.lease_seconds)
            with self._lock:
                self._held.append(permit)
        return permit

    def try_acquire(self, timeout: float = 0, cost: int = 1) -> bool:
        try:
            self.acquire(timeout=timeout, cost=cost)
            return True
        except RateLimitTimeoutError:
            return False

    @contextmanager
    def acquire_context(self, timeout: Optional[float] = None, cost: int = 1) -> Iterator[Permit]:
        permit = self.acquire(timeout=timeout, cost=cost)
        try:
            yield permit
        finally:
            permit.release()

    def release(self) -> None:
        """Releases one permit taken by this limiter object in this process (a no-op when none is held)."""
        with self._lock:
            permit = self._held[0] if self._held else None
        if permit is not None:
            permit.release()

    def get_state(self) -> LimiterState:
        proc = process()
        channel = proc.channel()
        start = time.monotonic()
        message = query_message("state", proc.client_id, channel.name, proc.next_id(), self.info.base, self.info.key, QUERY_SECONDS)
        reply = channel.request(message, proc.keys.requests, QUERY_SECONDS)
        return LimiterState.from_wire(value_of(reply, proc, f"the state of {self.id!r}", time.monotonic() - start))

    def _forget(self, permit: Permit) -> None:
        with self._lock:
            try:
                self._held.remove(permit)
            except ValueError:
                pass

    def __repr__(self) -> str:
        return f"<ratesync_bridge.sync.Limiter {self.id!r}>"


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
_limiters_lock = threading.Lock()


def _describe(base: str, unique: Optional[str], timeout: float) -> LimiterInfo:
    proc = process()
    channel = proc.channel()
    start = time.monotonic()
    message = query_message("describe", proc.client_id, channel.name, proc.next_id(), base, unique, timeout)
    reply = channel.request(message, proc.keys.requests, timeout)
    return LimiterInfo.from_wire(value_of(reply, proc, f"the lookup of limiter {base!r}", time.monotonic() - start))


def _get(cache_key: str, base: str, unique: Optional[str], timeout: float) -> Limiter:
    cached = _limiters.get(cache_key)
    if cached is not None:
        return cached
    limiter = Limiter(_describe(base, unique, timeout))
    with _limiters_lock:
        return _remember(cache_key, limiter)


def get_limiter(limiter_id: str, *, timeout: float = QUERY_SECONDS) -> Limiter:
    check_ids(limiter_id, None)
    return _get(limiter_id, limiter_id, None, timeout)


def get_or_clone_limiter(base: str, unique: str, *, timeout: float = QUERY_SECONDS) -> Limiter:
    check_ids(base, unique)
    return _get(f"{base}:{unique}", base, unique, timeout)
