"""No coordinator, a coordinator that stops or dies, and one that comes back; Redis out of reach."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Callable

import pytest

import ratesync_bridge as rb
from ratesync_bridge import sync

from conftest import REDIS_URL, Coordinator, needs_redis

pytestmark = needs_redis

LIMITERS = """
[limiters.api]
store = "memory"
rate_per_second = 50

[limiters.once]
store = "memory"
rate_per_second = 0.01

[limiters.slot]
store = "memory"
max_concurrent = 1
"""


def test_no_coordinator_fails_at_the_timeout_with_a_clear_error(bridge: str) -> None:
    start = time.monotonic()
    with pytest.raises(rb.CoordinatorUnavailableError) as caught:
        sync.get_limiter("api", timeout=1.0)
    took = time.monotonic() - start
    assert 0.9 <= took < 2.5, took
    print(f"no coordinator: CoordinatorUnavailableError after {took:.2f} s (timeout 1.0 s)")
    message = str(caught.value)
    assert f'"{bridge}:bridge:requests"' in message and "no coordinator answered" in message
    assert caught.value.list_key == f"{bridge}:bridge:requests"
    assert isinstance(caught.value, ConnectionError)


def test_coordinator_stops_dies_and_comes_back_without_restarting_the_client(coordinator: Callable[[str], Coordinator]) -> None:
    first = coordinator(LIMITERS)

    async def phase_one() -> None:
        api = await rb.get_limiter("api")
        slot = await rb.get_limiter("slot")
        await api.acquire(timeout=1)
        await slot.acquire(timeout=1)
        waiting = asyncio.ensure_future(slot.acquire(timeout=30))
        await asyncio.sleep(0.3)
        first.stop(signal.SIGTERM)
        with pytest.raises(rb.CoordinatorUnavailableError, match=r"stopped \(SIGTERM\)"):
            await waiting  # told at once, not at its timeout
        start = time.monotonic()
        with pytest.raises(rb.CoordinatorUnavailableError, match="no coordinator answered"):
            await api.acquire(timeout=1.0)
        assert 1.0 <= time.monotonic() - start < 2.5

    asyncio.run(phase_one())
    # While it is down, a request with a short timeout waits in the list; the coordinator that
    # comes back must drop it, not grant it.
    second = coordinator(LIMITERS)
    once = sync.get_limiter("once")
    second.stop(signal.SIGTERM)
    with pytest.raises(rb.CoordinatorUnavailableError):
        once.acquire(timeout=0.5)
    third = coordinator(LIMITERS)

    async def phase_two() -> None:
        api = await rb.get_limiter("api")  # the same process, the same cached limiter
        await api.acquire(timeout=2)
        state = await (await rb.get_limiter("once")).get_state()
        assert state.remaining == 1, "the request pushed while no coordinator ran was not granted"

    asyncio.run(phase_two())
    third.stop()
    assert third.stats()["stale"] >= 1

    # Killed (no goodbye): after its presence expires (3 s), calls fail with the clear error.
    fourth = coordinator(LIMITERS)
    assert sync.get_limiter("api").try_acquire(timeout=1)
    fourth.stop(signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(rb.CoordinatorUnavailableError):
        sync.get_limiter("api").acquire(timeout=3.5)
    assert 3.5 <= time.monotonic() - start < 5.5
    coordinator(LIMITERS)
    assert sync.get_limiter("api").try_acquire(timeout=1), "back without restarting the client"


def test_redis_out_of_reach_is_a_coordinator_unavailable_error_naming_it(namespace: str) -> None:
    port = int(REDIS_URL.rsplit(":", 1)[1].split("/")[0]) + 1
    rb.configure(url=f"redis://127.0.0.1:{port}/0", namespace=namespace)
    with pytest.raises(rb.CoordinatorUnavailableError, match=rf"Redis cannot be reached .*127\.0\.0\.1:{port}"):
        sync.get_limiter("api", timeout=1)

    async def attempt() -> None:
        with pytest.raises(rb.CoordinatorUnavailableError, match="Redis cannot be reached"):
            await rb.get_limiter("api", timeout=1)

    asyncio.run(attempt())
