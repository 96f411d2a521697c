"""The async API and its synchronous twin against a real `ratesync serve` coordinator."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Callable

import pytest
import redis

import ratesync_bridge as rb
from ratesync_bridge import _async, sync
from ratesync_bridge._core import process
from ratesync_bridge._protocol import acquire_message

from conftest import Coordinator, needs_redis

pytestmark = needs_redis

LIMITERS = """
[limiters.rate]
store = "memory"
rate_per_second = 10

[limiters.slots]
store = "memory"
max_concurrent = 2

[limiters.short_lease]
store = "memory"
max_concurrent = 1
lease_seconds = 1

[limiters.leader]
store = "memory"
max_concurrent = 1

[limiters.slow]
store = "memory"
rate_per_second = 0.05
timeout = 0.3

[limiters.window]
store = "memory"
algorithm = "sliding_window"
limit = 3
window_seconds = 1
"""


@pytest.fixture
def serving(coordinator: Callable[[str], Coordinator]) -> Coordinator:
    return coordinator(LIMITERS)


def test_acquire_waits_for_the_rate_fifo(serving: Coordinator) -> None:
    async def main() -> list:
        limiter = await rb.get_limiter("rate")
        return [(await limiter.acquire(timeout=5)).granted_at for _ in range(5)]

    start = time.monotonic()
    stamps = asyncio.run(main())
    assert time.monotonic() - start >= 0.35
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert all(g >= 0.099 for g in gaps), gaps


def test_timeout_raises_a_timeout_error_at_its_timeout_and_consumes_nothing(serving: Coordinator) -> None:
    async def main() -> None:
        limiter = await rb.get_or_clone_limiter("slow", "worker")
        assert limiter.id == "slow:worker" and limiter.default_timeout == 0.3
        await limiter.acquire(timeout=0)
        start = time.monotonic()
        with pytest.raises(TimeoutError) as caught:
            await limiter.acquire(timeout=0.4)
        took = time.monotonic() - start
        assert 0.35 <= took < 1.5, took
        err = caught.value
        assert isinstance(err, rb.RateLimitTimeoutError) and err.limiter_id == "slow:worker" and err.timeout == 0.4
        assert 'Timed out after 400 ms waiting for a permit from limiter "slow:worker"' in str(err)
        # No timeout given: the limiter's own (0.3 s).
        start = time.monotonic()
        assert not await limiter.try_acquire(timeout=0)
        with pytest.raises(rb.RateLimitTimeoutError):
            await limiter.acquire()
        assert 0.25 <= time.monotonic() - start < 1.5
        state = await limiter.get_state()
        assert state.remaining == 0 and state.waiting == 0 and state.retry_at > time.time() + 10
        other = await rb.get_or_clone_limiter("slow", "other")
        assert await other.try_acquire(timeout=0), "each clone key has its own state"

    asyncio.run(main())


def test_acquire_context_releases_on_exit_and_on_error(serving: Coordinator) -> None:
    async def main() -> None:
        limiter = await rb.get_limiter("slots")
        async with limiter.acquire_context(timeout=1) as permit:
            assert permit.lease is not None
            assert (await limiter.get_state()).in_flight == 1
        assert (await limiter.get_state()).in_flight == 0
        with pytest.raises(ZeroDivisionError):
            async with limiter.acquire_context(timeout=1):
                1 / 0
        assert (await limiter.get_state()).in_flight == 0
        # The original API: acquire, then release() on the limiter.
        assert await limiter.try_acquire(0) and await limiter.try_acquire(0)
        assert not await limiter.try_acquire(0)
        await limiter.release()
        assert await limiter.try_acquire(0)
        await limiter.release()
        await limiter.release()
        await limiter.release()  # nothing held: a no-op
        assert (await limiter.get_state()).in_flight == 0

    asyncio.run(main())


def test_only_one_of_many_wins_a_try_acquire_zero(serving: Coordinator) -> None:
    async def daily_report() -> bool:
        limiter = await rb.get_or_clone_limiter("leader", "all-workers")
        return await limiter.try_acquire(timeout=0)

    async def main() -> list:
        return await asyncio.gather(*(daily_report() for _ in range(10)))

    assert sorted(asyncio.run(main())) == [False] * 9 + [True]


def test_a_cancelled_wait_is_withdrawn_and_a_late_grant_goes_back(serving: Coordinator) -> None:
    async def main() -> None:
        limiter = await rb.get_limiter("leader")
        held = await limiter.acquire(timeout=1)
        waiter = asyncio.ensure_future(limiter.acquire(timeout=30))
        await asyncio.sleep(0.2)
        assert (await limiter.get_state()).waiting == 1
        waiter.cancel()
        start = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert time.monotonic() - start < 0.5, "cancelled at once, not at the end of its blocking pop"
        await asyncio.sleep(0.2)
        assert (await limiter.get_state()).waiting == 0, "the cancel reached the coordinator"
        await held.release()
        # A grant nobody waits for (its caller gave up) reaching the channel is released by the client.
        proc, channel = process(), _async.channel()
        await channel.push(proc.keys.requests, acquire_message(proc.client_id, channel.name, "orphan", "leader", None, 1, 1.0, 0.5))
        await asyncio.sleep(0.3)
        # The next request on this loop pops the orphan grant first and releases it: without that,
        # the only slot would stay taken for lease_seconds (60 s) and this would time out.
        assert await limiter.try_acquire(timeout=1)
        assert (await limiter.get_state()).in_flight == 1
        await limiter.release()

    asyncio.run(main())


def test_leases_are_renewed_while_held(serving: Coordinator) -> None:
    async def main() -> None:
        limiter = await rb.get_limiter("short_lease")
        permit = await limiter.acquire(timeout=1)
        await asyncio.sleep(2.5)  # lease_seconds = 1: alive only because it is renewed
        assert not permit.lost
        assert not await limiter.try_acquire(timeout=0)
        await permit.release()
        assert await limiter.try_acquire(timeout=0.5)

    asyncio.run(main())


def test_a_sliding_window_through_the_bridge(serving: Coordinator) -> None:
    async def main() -> None:
        limiter = await rb.get_limiter("window")
        assert [await limiter.try_acquire(0) for _ in range(4)] == [True, True, True, False]
        start = time.monotonic()
        await limiter.acquire(timeout=2)
        assert 0.8 <= time.monotonic() - start < 1.6

    asyncio.run(main())


def test_errors_for_unknown_limiters_and_bad_arguments(serving: Coordinator) -> None:
    async def main() -> None:
        with pytest.raises(rb.LimiterNotFoundError, match='Limiter "nope" not found'):
            await rb.get_or_clone_limiter("nope", "x")
        limiter = await rb.get_limiter("rate")
        with pytest.raises(rb.InvalidArgumentError, match="timeout"):
            await limiter.acquire(timeout=-1)
        with pytest.raises(ValueError, match="cost"):
            await limiter.acquire(cost=0)
        with pytest.raises(rb.InvalidArgumentError):
            await limiter.acquire(cost=2)  # more than the burst (1): can never be granted
        with pytest.raises(rb.InvalidArgumentError, match="unique id"):
            await rb.get_or_clone_limiter("rate", "x" * 257)
        assert await rb.get_or_clone_limiter("rate", "u") is await rb.get_or_clone_limiter("rate", "u")

    asyncio.run(main())


def test_asyncio_run_per_task_leaves_nothing_behind(serving: Coordinator) -> None:
    async def task(n: int) -> float:
        limiter = await rb.get_or_clone_limiter("rate", "celery")
        return (await limiter.acquire(timeout=5)).granted_at

    stamps = [asyncio.run(task(n)) for n in range(4)]
    assert stamps == sorted(stamps)
    assert _async._channels == {}, "each loop's channel closed with its loop"


def test_the_sync_twin(serving: Coordinator) -> None:
    limiter = sync.get_or_clone_limiter("slow", "sync")
    assert limiter is sync.get_or_clone_limiter("slow", "sync")
    assert limiter.try_acquire(timeout=0)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        limiter.acquire(timeout=0.3)
    assert 0.25 <= time.monotonic() - start < 1.5
    slots = sync.get_limiter("slots")
    with slots.acquire_context(timeout=1) as permit:
        assert permit.lease is not None and slots.get_state().in_flight == 1
    assert slots.get_state().in_flight == 0


def test_threads_share_the_concurrency_limit(serving: Coordinator) -> None:
    limiter = sync.get_limiter("slots")
    inside, peak, lock = [0], [0], threading.Lock()

    def work() -> None:
        for _ in range(3):
            with limiter.acquire_context(timeout=10):
                with lock:
                    inside[0] += 1
                    peak[0] = max(peak[0], inside[0])
                time.sleep(0.05)
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2
    assert limiter.get_state().in_flight == 0


def test_a_late_grant_read_by_a_sync_channel_goes_back(serving: Coordinator) -> None:
    limiter = sync.get_limiter("leader")
    proc = process()
    channel = proc.channel()
    channel.push(proc.keys.requests, acquire_message(proc.client_id, channel.name, "orphan", "leader", None, 1, 1.0, 0.5))
    time.sleep(0.2)
    # The next call on this thread reads the orphan grant first, and releases it: without that,
    # the only slot would stay taken for lease_seconds (60 s) and this would time out.
    assert limiter.try_acquire(timeout=1)
    assert limiter.get_state().in_flight == 1
    limiter.release()


def test_garbage_from_python_gets_error_replies_and_is_counted(serving: Coordinator, namespace: str) -> None:
    from conftest import REDIS_URL

    r = redis.Redis.from_url(REDIS_URL)
    requests = f"{namespace}:bridge:requests"
    reply = f"{namespace}:bridge:reply:garbage.1"
    r.rpush(requests, '{"v":1,"client":"g","reply":"garbage.1","type":"acquire","id":"a", oops')
    r.rpush(requests, '{"at":1,"v":7,"client":"g","reply":"garbage.1","type":"acquire","id":"b","limiter":"rate"}')
    r.rpush(requests, '{"at":1,"v":1,"reply":"garbage.1","type":"acquire","id":"c"}')
    r.rpush(requests, '{"at":1,"v":1,"client":"g","reply":"garbage.1","type":"acquire","id":"d","limiter":"' + "x" * (10 * 1024 * 1024) + '"}')
    codes = {}
    for _ in range(4):
        item = r.blpop([reply], timeout=5)
        assert item is not None
        answer = rb._protocol.decode_reply(item[1])
        codes[answer.id] = type(answer.error).__name__
    assert codes == {"a": "ProtocolError", "b": "ProtocolError", "c": "ProtocolError", "d": "ProtocolError"}
    assert sync.get_limiter("rate").try_acquire(timeout=1), "the coordinator keeps serving"
    serving.stop()
    assert serving.stats()["rejected"] == 4
