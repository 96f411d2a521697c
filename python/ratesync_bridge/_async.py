"""The reply channel of one asyncio event loop.

Whoever waits reads: a request that finds nobody reading the loop's reply list pops it itself
(no task switch in the common one-request-at-a-time case) and hands every other reply to its
waiting future; when it has its answer and others still wait, a reader task takes over until
they have theirs. A reply nobody waits for any more (its caller timed out or was cancelled) is
a stray, and a stray grant is released at once.

redis-py bounds its socket operations with ``asyncio.wait_for`` when a socket timeout is set,
and before Python 3.12 ``wait_for`` can swallow a cancellation that lands at the wrong moment.
On Python 3.11+ the channel's connections therefore have no socket timeout and every call is
bounded by ``asyncio.timeout`` instead, so cancelling a waiting call always works.

Every ``asyncio.run()`` has its own loop, so a Celery task that runs ``asyncio.run(...)`` gets a
fresh channel; a guard task, cancelled when ``asyncio.run`` ends, closes its connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any, AsyncContextManager, Dict, Mapping, Optional, Union

import redis
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from ._core import REDIS_ERRORS, SOCKET_TIMEOUT, Process, coordinator_unavailable, log, process
from ._errors import ProtocolError
from ._protocol import COORDINATOR_LIST_TTL_MS, MAX_MESSAGE_BYTES, PUSH_SCRIPT, PUSH_SHA, Reply, decode_reply, encode, release_message

_channels: Dict[asyncio.AbstractEventLoop, "AsyncChannel"] = {}
#: Longest single blocking pop, in seconds.
POP_SECONDS = 2.0

if sys.version_info >= (3, 11):
    _SOCKET_TIMEOUT: Optional[float] = None

    def _bounded(seconds: float) -> AsyncContextManager[Any]:
        return asyncio.timeout(seconds)

else:  # pragma: no cover - older Pythons keep redis-py's socket timeout (and wait_for's race)
    _SOCKET_TIMEOUT = SOCKET_TIMEOUT

    def _bounded(seconds: float) -> AsyncContextManager[Any]:
        return contextlib.nullcontext()


class AsyncChannel:
    def __init__(self, proc: Process, loop: asyncio.AbstractEventLoop) -> None:
        self.process = proc
        self.name = f"{proc.client_id}.a{proc.next_id()}"
        self.key = proc.keys.reply(self.name)
        options = {**proc.async_redis_options(), "socket_timeout": _SOCKET_TIMEOUT}
        self.redis = aioredis.Redis.from_url(proc.config.url, **options)
        # Blocking pops on a client of their own (one reader at a time, so one connection).
        self._reads = aioredis.Redis.from_url(proc.config.url, **options)
        self._pending: Dict[Any, "asyncio.Future[Optional[Reply]]"] = {}
        self._loop = loop
        self._reading = False
        self._closed = False
        self.failure: Optional[BaseException] = None
        self._guard = loop.create_task(self._close_with_loop(), name=f"ratesync-bridge-{self.name}")

    @property
    def usable(self) -> bool:
        return not self._closed

    async def push(self, target: str, message: Mapping[str, Any]) -> None:
        ttl = COORDINATOR_LIST_TTL_MS if target != self.process.keys.requests else 0
        args = (target, encode(message), MAX_MESSAGE_BYTES, ttl)
        try:
            async with _bounded(SOCKET_TIMEOUT):
                try:
                    await self.redis.execute_command("EVALSHA", PUSH_SHA, 1, *args)  # type: ignore[no-untyped-call]
                except NoScriptError:
                    # First use on this server, or after a restart / SCRIPT FLUSH (see _core.SyncChannel.push).
                    await self.redis.script_load(PUSH_SCRIPT)
                    await self.redis.execute_command("EVALSHA", PUSH_SHA, 1, *args)  # type: ignore[no-untyped-call]
        except asyncio.TimeoutError as err:
            raise redis.exceptions.TimeoutError(f"Redis did not answer within {SOCKET_TIMEOUT:g} s") from err

    async def request(self, message: Dict[str, Any], target: str, listen: Optional[float]) -> Optional[Reply]:
        """Pushes a request and waits up to ``listen`` seconds (None: forever) for its reply (None: no reply)."""
        future: "asyncio.Future[Optional[Reply]]" = self._loop.create_future()
        request_id = message["id"]
        self._pending[request_id] = future
        deadline = None if listen is None else time.monotonic() + listen
        try:
            try:
                await self.push(target, message)
            except REDIS_ERRORS as err:
                raise coordinator_unavailable(self.process, "Redis cannot be reached", err) from err
            if not self._reading:
                await self._read_until(future, deadline)
            if not future.done():
                await self._wait(future, deadline)
            reply = future.result() if future.done() else None
            if reply is None and self.failure is not None:
                raise coordinator_unavailable(self.process, "Redis cannot be reached", self.failure) from self.failure
            return reply
        finally:
            # A reply that comes later is a stray: whoever reads it releases its lease.
            self._pending.pop(request_id, None)
            if self._pending and not self._reading and not self._closed:
                self._loop.create_task(self._read_until(None, None))

    async def _wait(self, future: "asyncio.Future[Optional[Reply]]", deadline: Optional[float]) -> None:
        if deadline is None:
            await future
            return
        def expire() -> None:
            if not future.done():
                future.set_result(None)

        timer = self._loop.call_later(max(0.0, deadline - time.monotonic()), expire)
        try:
            await future
        finally:
            timer.cancel()

    async def _read_until(self, future: "Optional[asyncio.Future[Optional[Reply]]]", deadline: Optional[float]) -> None:
        """Reads the reply list until ``future`` is done (None: until nobody waits) or the deadline passes."""
        if self._reading:
            return
        self._reading = True
        try:
            while not self._closed and (not future.done() if future is not None else bool(self._pending)):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return
                # BLPOP's timeout 0 means forever: never let a small remainder round to it.
                wait = POP_SECONDS if left is None else max(0.01, min(left, POP_SECONDS))
                try:
                    async with _bounded(wait + SOCKET_TIMEOUT - POP_SECONDS):
                        item = await self._reads.blpop([self.key], timeout=wait)
                    self.failure = None
                except (*REDIS_ERRORS, asyncio.TimeoutError) as err:
                    self.failure = err
                    await asyncio.sleep(min(0.2, wait))
                    continue
                if item is not None:
                    self._dispatch(item[1])
        finally:
            self._reading = False

    def _dispatch(self, raw: Union[bytes, str]) -> None:
        try:
            reply = decode_reply(raw)
        except ProtocolError as err:
            log.warning("rate-sync bridge: %s", err)
            return
        future = self._pending.get(reply.id)
        if future is not None and not future.done():
            future.set_result(reply)
        elif reply.lease is not None:
            log.info("rate-sync bridge: releasing lease %s granted after its caller gave up", reply.lease)
            self._loop.create_task(self.release(reply.lease, reply.coordinator))

    async def coordinator_alive(self) -> bool:
        try:
            async with _bounded(SOCKET_TIMEOUT):
                return bool(await self.redis.exists(self.process.keys.coordinators))
        except (*REDIS_ERRORS, asyncio.TimeoutError):
            return False

    async def release(self, lease: str, coordinator: Optional[str]) -> None:
        self.process.leases.remove(lease)
        try:
            await self.push(self.process.release_target(coordinator), release_message(self.process.client_id, lease))
        except REDIS_ERRORS as err:
            log.warning("rate-sync bridge: could not release lease %s (it expires after lease_seconds): %s", lease, err)

    async def _close_with_loop(self) -> None:
        try:
            await self._loop.create_future()  # until cancelled: asyncio.run cancels it at the end
        finally:
            self._closed = True
            if _channels.get(self._loop) is self:
                del _channels[self._loop]
            for _ in range(int(POP_SECONDS * 100) + 100):
                if not self._reading:
                    break
                await asyncio.sleep(0.01)  # a reader being cancelled still uses the connection
            for client in (self._reads, self.redis):
                close = getattr(client, "aclose", None) or client.close
                try:
                    await close()
                except Exception:  # the loop is going away; nothing to report to
                    pass


def channel() -> AsyncChannel:
    """The channel of the running event loop."""
    loop = asyncio.get_running_loop()
    proc = process()
    current = _channels.get(loop)
    if current is None or current.process is not proc or not current.usable:
        current = _channels[loop] = AsyncChannel(proc, loop)
    return current
