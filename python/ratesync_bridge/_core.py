"""Per-process state: the client id, the configuration, the held leases and their heartbeat,
and the synchronous channel of each thread.

One Python process is one client of the coordinator (its leases and waiters belong to it).
Replies come back on channels: one per thread for synchronous calls, one per event loop for
async calls (``_async.py``), one for the heartbeat thread. After ``fork()`` (Celery's prefork
pool) the child is a new client with new channels and connections.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

import redis

from ._config import BridgeConfig, load_bridge_config
from ._errors import CoordinatorUnavailableError, RateLimitTimeoutError
from ._protocol import (
    COORDINATOR_LIST_TTL_MS,
    MAX_MESSAGE_BYTES,
    PUSH_SCRIPT,
    PUSH_SHA,
    Keys,
    Reply,
    decode_reply,
    encode,
    release_message,
    renew_message,
)

log = logging.getLogger("ratesync_bridge")

#: Longest single blocking pop, in seconds. The sockets' timeout must exceed it (redis-py raises
#: TimeoutError mid-BLPOP otherwise), so they get BLOCK_SECONDS + 5.
BLOCK_SECONDS = 5.0
SOCKET_TIMEOUT = BLOCK_SECONDS + 5.0
CONNECT_TIMEOUT = 2.0
#: How long describe/state/renew wait for an answer when the caller gives no timeout.
QUERY_SECONDS = 5.0
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def no_reply_error(process: "Process", what: str, waited: float, alive: bool, limiter_id: str, timeout_ms: Optional[float]) -> Exception:
    """The error for a request that got no answer while its client listened."""
    if alive and timeout_ms is not None:
        # A coordinator is there; the permit did not come in time (its answer was late).
        return RateLimitTimeoutError(
            f'Timed out after {timeout_ms:g} ms waiting for a permit from limiter "{limiter_id}"',
            {"limiterId": limiter_id, "timeoutMs": timeout_ms},
        )
    return coordinator_unavailable(process, f"no coordinator answered {what} within {waited:g} s")


def coordinator_unavailable(process: "Process", reason: str, cause: Optional[BaseException] = None) -> CoordinatorUnavailableError:
    keys = process.keys
    detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    return CoordinatorUnavailableError(
        f"rate-sync coordinator unavailable: {reason}{detail}. Requests go to the Redis list "
        f'"{keys.requests}" at {process.safe_url}; is `ratesync serve` running with the same [bridge] namespace?',
        {"reason": reason, "list": keys.requests, "url": process.safe_url},
    )


class SyncChannel:
    """A thread's reply list. Each thread reads only its own replies, so it needs no dispatcher."""

    def __init__(self, process: "Process") -> None:
        self.process = process
        self.name = f"{process.client_id}.t{process.next_id()}"
        self.key = process.keys.reply(self.name)
        self.redis = process.sync_redis()

    def push(self, target: str, message: Mapping[str, Any]) -> None:
        ttl = COORDINATOR_LIST_TTL_MS if target != self.process.keys.requests else 0
        args = (target, encode(message), MAX_MESSAGE_BYTES, ttl)
        try:
            self.redis.execute_command("EVALSHA", PUSH_SHA, 1, *args)  # type: ignore[no-untyped-call]
        except redis.exceptions.NoScriptError:
            # First use on this server, or after a restart / SCRIPT FLUSH. SCRIPT LOAD, not EVAL:
            # the documented client ACL (docs/bridge-protocol.md) has no EVAL.
            self.redis.script_load(PUSH_SCRIPT)
            self.redis.execute_command("EVALSHA", PUSH_SHA, 1, *args)  # type: ignore[no-untyped-call]

    def request(self, message: Dict[str, Any], target: str, listen: Optional[float]) -> Optional[Reply]:
        """Pushes a request and waits up to ``listen`` seconds (None: forever) for its reply."""
        start = time.monotonic()
        deadline = None if listen is None else start + listen
        try:
            self.push(target, message)
        except REDIS_ERRORS as err:
            raise coordinator_unavailable(self.process, "Redis cannot be reached", err) from err
        failure: Optional[BaseException] = None
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                if failure is not None:
                    raise coordinator_unavailable(self.process, "Redis cannot be reached", failure) from failure
                return None
            # BLPOP's timeout 0 means forever: never let a small remainder round to it.
            wait = BLOCK_SECONDS if left is None else max(0.01, min(left, BLOCK_SECONDS))
            try:
                item = self.redis.execute_command("BLPOP", self.key, wait)  # type: ignore[no-untyped-call]
                failure = None
            except REDIS_ERRORS as err:
                failure = err
                time.sleep(min(0.2, wait))
                continue
            if item is None:
                continue
            reply = decode_reply(item[1])
            if reply.id == message["id"]:
                return reply
            self.process.stray(reply, self)

    def coordinator_alive(self) -> bool:
        try:
            return bool(self.redis.exists(self.process.keys.coordinators))
        except REDIS_ERRORS:
            return False


class LeaseKeeper:
    """Renews this process's leases while they are held (``lease_seconds / 3``), in a daemon thread.

    If the process dies, nobody renews them and the coordinator reclaims them after ``lease_seconds``.
    """

    def __init__(self, process: "Process") -> None:
        self._process = process
        self._lock = threading.Lock()
        self._held: Dict[str, Tuple[Optional[str], float]] = {}
        self._lost: Set[str] = set()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def add(self, lease: str, coordinator: Optional[str], lease_seconds: float) -> None:
        with self._lock:
            self._held[lease] = (coordinator, max(0.05, lease_seconds / 3))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ratesync-bridge-leases", daemon=True)
                self._thread.start()
        self._wake.set()

    def remove(self, lease: str) -> None:
        with self._lock:
            self._held.pop(lease, None)
            self._lost.discard(lease)

    def was_lost(self, lease: str) -> bool:
        with self._lock:
            return lease in self._lost

    def held(self) -> List[str]:
        with self._lock:
            return list(self._held)

    def _run(self) -> None:
        last = time.monotonic()
        while True:
            with self._lock:
                if not self._held:
                    self._thread = None
                    return
                period = min(p for _, p in self._held.values())
            left = last + period - time.monotonic()
            if left > 0:
                # Woken early by a lease with a shorter period: wait again, for the new period.
                self._wake.wait(left)
                self._wake.clear()
                continue
            last = time.monotonic()
            self._renew_all()

    def _renew_all(self) -> None:
        process = self._process
        with self._lock:
            groups: Dict[Optional[str], List[str]] = {}
            for lease, (coordinator, _) in self._held.items():
                groups.setdefault(coordinator, []).append(lease)
        channel = process.channel()
        for coordinator, leases in groups.items():
            target = process.keys.requests if coordinator is None else process.keys.coordinator(coordinator)
            message = renew_message(process.client_id, channel.name, process.next_id(), leases)
            try:
                reply = channel.request(message, target, QUERY_SECONDS)
            except Exception as err:  # the next cycle tries again; the lease may still be alive
                log.warning("rate-sync bridge: renewing %d lease(s) failed: %s", len(leases), err)
                continue
            if reply is None or not reply.ok:
                log.warning("rate-sync bridge: no answer to the renewal of %d lease(s) from coordinator %s", len(leases), coordinator)
                continue
            with self._lock:
                # A lease released while its renewal was on the way is not lost.
                lost = [lease for lease in (reply.value or {}).get("lost", []) if self._held.pop(lease, None) is not None]
                self._lost.update(lost)
            if lost:
                log.warning("rate-sync bridge: %d lease(s) were reclaimed by the coordinator before renewal: %s", len(lost), lost)


class Process:
    def __init__(self, config: BridgeConfig) -> None:
        self.pid = os.getpid()
        self.config = config
        self.keys = Keys(config.namespace)
        host = "".join(c if c.isalnum() or c in "_.-" else "_" for c in socket.gethostname())[:40]
        self.client_id = f"{host}-{self.pid}-{secrets.token_hex(4)}"
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._redis: Optional[redis.Redis] = None
        self._local = threading.local()
        self.leases = LeaseKeeper(self)
        self.safe_url = _hide_password(config.url)

    def next_id(self) -> str:
        return str(next(self._seq))

    def sync_redis(self) -> "redis.Redis":
        with self._lock:
            if self._redis is None:
                self._redis = redis.Redis.from_url(
                    self.config.url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT
                )
            return self._redis

    def async_redis_options(self) -> Dict[str, Any]:
        return {"socket_timeout": SOCKET_TIMEOUT, "socket_connect_timeout": CONNECT_TIMEOUT}

    def channel(self) -> SyncChannel:
        channel = getattr(self._local, "channel", None)
        if channel is None:
            channel = self._local.channel = SyncChannel(self)
        return channel

    def release_target(self, coordinator: Optional[str]) -> str:
        return self.keys.requests if coordinator is None else self.keys.coordinator(coordinator)

    def release_sync(self, lease: str, coordinator: Optional[str]) -> None:
        self.leases.remove(lease)
        try:
            self.channel().push(self.release_target(coordinator), release_message(self.client_id, lease))
        except REDIS_ERRORS as err:
            log.warning("rate-sync bridge: could not release lease %s (it expires after lease_seconds): %s", lease, err)

    def stray(self, reply: Reply, channel: SyncChannel) -> None:
        """A reply nobody waits for any more: a grant that came after its caller gave up goes straight back."""
        lease = reply.lease
        if lease is not None:
            log.info("rate-sync bridge: releasing lease %s granted after its caller gave up", lease)
            self.release_sync(lease, reply.coordinator)


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


_state_lock = threading.Lock()
_settings: Dict[str, Any] = {}
_process: Optional[Process] = None
#: Called by configure(): caches of limiters described by the previous coordinator.
on_configure: List[Callable[[], None]] = []


def configure(
    url: Optional[str] = None,
    namespace: Optional[str] = None,
    config_file: Optional[str] = None,
    reply_grace: Optional[float] = None,
) -> BridgeConfig:
    """Sets where the bridge is (else: ``RATE_SYNC_BRIDGE_URL``, or ``[bridge]`` in rate-sync.toml)."""
    global _process
    settings: Dict[str, Any] = {k: v for k, v in dict(url=url, namespace=namespace, config_file=config_file, reply_grace=reply_grace).items() if v is not None}
    config = load_bridge_config(**settings)
    with _state_lock:
        _settings.clear()
        _settings.update(settings)
        _process = Process(config)
    for reset in on_configure:
        reset()
    return config


def process() -> Process:
    """This process's client, created on first use (again after a fork)."""
    global _process
    current = _process
    if current is not None and current.pid == os.getpid():
        return current
    with _state_lock:
        if _process is None or _process.pid != os.getpid():
            _process = Process(load_bridge_config(**_settings))
        return _process
