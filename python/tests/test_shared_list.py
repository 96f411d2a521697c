"""Several coordinators on one request list: two real `ratesync serve` processes whose limiters use
one Redis store serve one namespace together. Python clients share a quota through both of them
within the bound, and every release and renewal reaches the coordinator that granted the lease."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from typing import Callable, Dict, List, Tuple

from ratesync_bridge import sync

from conftest import REDIS_URL, Coordinator, needs_redis

pytestmark = needs_redis

RATE, BURST, SECONDS = 40, 5, 4.0
LEASE_SECONDS = 1.5


def limiters() -> str:
    return f"""
[stores.shared]
engine = "redis"
url = "{REDIS_URL}"
key_prefix = "rs-test:shared-list:{uuid.uuid4().hex[:12]}"

[limiters.shared_api]
store = "shared"
rate_per_second = {RATE}
burst = {BURST}

[limiters.slots]
store = "shared"
max_concurrent = 2
lease_seconds = {LEASE_SECONDS}
"""


def two_coordinators(coordinator: Callable[[str], Coordinator]) -> Tuple[Coordinator, Coordinator]:
    config = limiters()
    first, second = coordinator(config), coordinator(config)
    assert first.running and second.running, "a coordinator on a redis store does not need the list to itself"
    return first, second


def stop_both(pair: Tuple[Coordinator, Coordinator]) -> List[Dict]:
    for c in pair:
        assert c.stop(signal.SIGTERM) == 0
    return [c.stats() for c in pair]


def worst_excess(stamps: List[float], burst: float, rate_per_ms: float) -> float:
    """Largest excess, over every interval [t_i, t_j] between grants, of its grants over burst + rate·T."""
    best, worst = float("-inf"), float("-inf")
    for j, t in enumerate(sorted(stamps)):
        best = max(best, rate_per_ms * t - j)
        worst = max(worst, j - rate_per_ms * t + best + 1 - burst)
    return worst


def test_two_coordinators_serve_one_list_and_python_clients_share_the_quota_through_both(coordinator: Callable[[str], Coordinator]) -> None:
    pair = two_coordinators(coordinator)
    limiter = sync.get_limiter("shared_api")
    start = time.time() + 0.5
    grants: List[Tuple[float, str]] = []
    lock = threading.Lock()

    def saturate() -> None:
        time.sleep(max(0.0, start - time.time()))
        while time.time() < start + SECONDS:
            permit = limiter.acquire(timeout=5)
            with lock:
                grants.append((permit.granted_at * 1000, str(permit.coordinator)))

    threads = [threading.Thread(target=saturate) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    stats = stop_both(pair)

    lo = start * 1000
    stamps = [t for t, _ in grants if lo <= t < lo + SECONDS * 1000]
    by_coordinator: Dict[str, int] = {}
    for _, c in grants:
        by_coordinator[c] = by_coordinator.get(c, 0) + 1
    ideal = BURST + RATE * SECONDS
    excess = worst_excess(stamps, BURST, RATE / 1000)
    print(
        f"two coordinators on one list: {len(stamps)} grants in {SECONDS:g} s = {100 * len(stamps) / ideal:.1f}% of {ideal:g}; "
        f"by coordinator {sorted(by_coordinator.values())}; worst window excess {excess:.4f} units"
    )
    assert len(by_coordinator) == 2, f"both coordinators granted: {by_coordinator}"
    assert all(n >= 0.1 * len(grants) for n in by_coordinator.values()), by_coordinator
    # Grant instants are Redis's decision instants on each coordinator's clock (one machine, one
    # wall clock): in no window more than burst + rate·T.
    assert excess <= 0.05, f"a window holds {excess:.3f} grants more than burst + rate·T"
    assert len(stamps) >= 0.95 * ideal, f"{len(stamps)} grants of {ideal:g} possible"
    assert [s["conflicts"] for s in stats] == [0, 0]


def test_releases_and_renewals_reach_the_coordinator_that_granted_the_lease(coordinator: Callable[[str], Coordinator]) -> None:
    pair = two_coordinators(coordinator)
    slots = sync.get_limiter("slots")
    # One lease from each coordinator. Each wrong guess is released and asked again: that release
    # must free the slot at once, or the next acquire would wait for the lease to expire.
    held: Dict[str, sync.Permit] = {}
    for _ in range(100):
        permit = slots.acquire(timeout=1.0)
        coordinator_id = str(permit.coordinator)
        if coordinator_id in held:
            permit.release()
        else:
            held[coordinator_id] = permit
        if len(held) == 2:
            break
    assert len(held) == 2, f"leases from both coordinators: {list(held)}"

    # Held for 2.5 lease periods: the renewals reach the coordinators that granted them.
    time.sleep(2.5 * LEASE_SECONDS)
    assert not slots.try_acquire(timeout=0), "both slots are still held"
    assert [p.lost for p in held.values()] == [False, False]

    # A release frees its slot at once, long before the lease would expire (at least
    # LEASE_SECONDS · 2/3 = 1 s after the last renewal).
    for permit in held.values():
        released = time.monotonic()
        permit.release()
        again = slots.acquire(timeout=1.0)
        took = time.monotonic() - released
        again.release()
        assert took < 0.75, f"the slot came back {took:.2f} s after the release"
        print(f"lease of coordinator {permit.coordinator} released and granted again in {1000 * took:.0f} ms")
    stats = stop_both(pair)
    assert [s["conflicts"] for s in stats] == [0, 0]
