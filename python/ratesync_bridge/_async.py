"""The reply channel of one asyncio event loop.

One reader task per loop pops the loop's reply list and resolves the waiting futures; a reply
nobody waits for any more (its caller timed out or was cancelled) is a stray, and a stray grant
is released at once. Every ``asyncio.run()`` has its own loop, so a Celery task that runs
``asyncio.run(...)`` gets a fresh channel, closed with its loop (the reader is cancelled when
``asyncio.run`` ends and closes its connections).
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, Mapping, Optional

import redis.asyncio as aioredis

from ._core import BLOCK_SECONDS, REDIS_ERRORS, Process, coordinator_unavailable, log, process
from ._protocol import COORDINATOR_LIST_TTL_MS, MAX_MESSAGE_BYTES, PUSH_SCRIPT, Reply, decode_reply, encode, release_message
from ._errors import ProtocolError

_channels: Dict[asyncio.AbstractEventLoop, "AsyncChannel"] = {}


class AsyncChannel:
    def __init__(self, proc: Process, loop: asyncio.AbstractEventLoop) -> None:
        self.process = proc
        self.name = f"{proc.client_id}.a{proc.next_id()}"
        self.key = proc.keys.reply(self.name)
        self.redis = aioredis.Redis.from_url(proc.config.url, **proc.async_redis_options())
        self._push = self.redis.register_script(PUSH_SCRIPT)
        self._pending: Dict[Any, "asyncio.Future[Reply]"] = {}
        self._loop = loop
        self._reader: Optional["asyncio.Task[None]"] = None
        self.failure: Optional[BaseException] = None

    @property
    def alive(self) -> bool:
        return self._reader is None or not self._reader.done()

    async def push(self, target: str, message: Mapping[str, Any]) -> None:
        ttl = COORDINATOR_LIST_TTL_MS if target != self.process.keys.requests else 0
        await self._push(keys=[target], args=[encode(message), MAX_MESSAGE_BYTES, ttl])

    async def request(self, message: Dict[str, Any], target: str, listen: Optional[float]) -> Optional[Reply]:
        """Pushes a request and waits up to ``listen`` seconds (None: forever) for its reply."""
        future: "asyncio.Future[Reply]" = self._loop.create_future()
        self._pending[message["id"]] = future
        try:
            try:
                await self.push(target, message)
            except REDIS_ERRORS as err:
                raise coordinator_unavailable(self.process, "Redis cannot be reached", err) from err
            if self._reader is None:
                self._reader = self._loop.create_task(self._read(), name=f"ratesync-bridge-reader-{self.name}")
            try:
                return await asyncio.wait_for(future, listen)
            except asyncio.TimeoutError:
                if self.failure is not None:
                    raise coordinator_unavailable(self.process, "Redis cannot be reached", self.failure) from self.failure
                return None
        finally:
            # A reply that comes later is a stray: the reader releases its lease.
            self._pending.pop(message["id"], None)

    async def coordinator_alive(self) -> bool:
        try:
            return bool(await self.redis.exists(self.process.keys.coordinators))
        except REDIS_ERRORS:
            return False

    async def release(self, lease: str, coordinator: Optional[str]) -> None:
        self.process.leases.remove(lease)
        try:
            await self.push(self.process.release_target(coordinator), release_message(self.process.client_id, lease))
        except REDIS_ERRORS as err:
            log.warning("rate-sync bridge: could not release lease %s (it expires after lease_seconds): %s", lease, err)

    async def _read(self) -> None:
        try:
            while True:
                try:
                    item = await self.redis.blpop([self.key], timeout=BLOCK_SECONDS)
                    self.failure = None
                except REDIS_ERRORS as err:
                    self.failure = err
                    await asyncio.sleep(0.2)
                    continue
                if item is None:
                    continue
                try:
                    reply = decode_reply(item[1])
                except ProtocolError as err:
                    log.warning("rate-sync bridge: %s", err)
                    continue
                future = self._pending.get(reply.id)
                if future is not None and not future.done():
                    future.set_result(reply)
                elif reply.lease is not None:
                    log.info("rate-sync bridge: releasing lease %s granted after its caller gave up", reply.lease)
                    await self.release(reply.lease, reply.coordinator)
        finally:
            if _channels.get(self._loop) is self:
                del _channels[self._loop]
            close = getattr(self.redis, "aclose", None) or self.redis.close
            try:
                await close()
            except Exception:  # the loop is going away; nothing to report to
                pass


def channel() -> AsyncChannel:
    """The channel of the running event loop."""
    loop = asyncio.get_running_loop()
    proc = process()
    current = _channels.get(loop)
    if current is None or current.process is not proc or not current.alive:
        current = _channels[loop] = AsyncChannel(proc, loop)
    return current

