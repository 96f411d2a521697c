"""Real Celery workers (prefork and solo pools) sharing a quota through the bridge."""

from __future__ import annotations

import os
import signal
import time
from typing import Callable, List

import pytest

from ratesync_bridge import sync

from conftest import Coordinator, Worker, needs_redis, send

pytestmark = needs_redis

LIMITERS = """
[limiters.external_api]
store = "memory"
rate_per_second = 4

[limiters.slots]
store = "memory"
max_concurrent = 1
lease_seconds = 2
"""


def check_rate(stamps: List[float], rate: float, burst: int, slack: float = 0.0) -> None:
    """In any window of length T, at most burst + rate·T grants (the stamps are grant instants)."""
    stamps = sorted(stamps)
    for i in range(len(stamps)):
        for j in range(i, len(stamps)):
            allowed = burst + rate * (stamps[j] - stamps[i] + slack)
            assert j - i + 1 <= allowed + 1e-9, f"{j - i + 1} grants in {stamps[j] - stamps[i]:.3f} s: {stamps}"


@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_the_user_guide_celery_task_retries_on_timeout(pool: str, coordinator: Callable[[str], Coordinator], worker: Callable[..., Worker]) -> None:
    coordinator(LIMITERS)
    w = worker(pool, concurrency=4, acquire_timeout=0.3)
    for n in range(10):
        send(w, "sync_user", f"user-{n}")
    events = w.wait_for(10, 60, lambda e: e["event"] in ("granted", "retry"))
    granted = [e for e in events if e["event"] == "granted"]
    retried = [e for e in events if e["event"] == "retry"]
    assert granted, events
    if pool == "prefork":
        # 4 concurrent tasks against 4/s with a 0.3 s timeout: some cannot get a permit in time.
        assert retried and all(e["countdown"] == 60 for e in retried), events
        assert len({e["pid"] for e in events}) > 1, "several worker processes took part"
    check_rate([e["at"] for e in granted], rate=4, burst=1)


@pytest.mark.parametrize("pool", ["prefork", "solo", "threads"])
def test_the_decorator_holds_a_permit_and_retries_until_it_gets_one(pool: str, coordinator: Callable[[str], Coordinator], worker: Callable[..., Worker]) -> None:
    coordinator(LIMITERS)
    w = worker(pool, concurrency=4, acquire_timeout=0.2)
    for n in range(8):
        send(w, "decorated", n)
    events = w.wait_for(8, 60, lambda e: e["event"] == "granted")
    assert sorted(e["n"] for e in events) == list(range(8)), "every task ran, once"
    if pool != "solo":
        assert any(e["retries"] > 0 for e in events), "some waited longer than 0.2 s and were retried"
    # Local stamps taken just after the grant: 50 ms of slack for scheduling.
    check_rate([e["at"] for e in events], rate=4, burst=1, slack=0.05)


@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_a_worker_killed_while_holding_a_lease_gives_its_slot_back_after_lease_seconds(
    pool: str, coordinator: Callable[[str], Coordinator], worker: Callable[..., Worker]
) -> None:
    coordinator(LIMITERS)
    w = worker(pool, concurrency=2)
    send(w, "hold_slot", 60)
    holding = w.wait_for(1, 30, lambda e: e["event"] == "holding")[0]
    slots = sync.get_limiter("slots")
    time.sleep(2.5)  # longer than lease_seconds: held only because the worker renews it
    assert not slots.try_acquire(timeout=0), "the live worker keeps its lease"
    os.kill(holding["pid"], signal.SIGKILL)  # the pool's child (prefork) or the worker itself (solo)
    killed = time.monotonic()
    permit = slots.acquire(timeout=10)
    back = time.monotonic() - killed
    # Renewed every lease_seconds / 3: reclaimed between 2/3 and 1 lease_seconds after the kill.
    assert 1.0 <= back <= 3.5, back
    print(f"{pool}: slot back {back:.2f} s after SIGKILL (lease_seconds = 2)")
    permit.release()
