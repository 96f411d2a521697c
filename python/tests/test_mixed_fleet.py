"""A mixed fleet on one quota: 2 Node worker threads and 1 cluster fork (real ones, clients of the
coordinator in their primary, test/fixtures/mixed-fleet.ts) and a Celery worker with concurrency 4
(through the bridge) share `rate_per_second = 40` (burst 5) for 5 s. Every grant is stamped with
the coordinator's decision instant: combined, they stay within burst + 40·T in every window, and
the quota is used (≥ 95%)."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Callable, Dict, List

from conftest import NODE, REDIS_URL, ROOT, Worker, needs_redis, send

pytestmark = needs_redis

RATE, BURST, SECONDS = 40, 5, 5.0


def test_node_threads_a_cluster_fork_and_a_celery_worker_share_one_quota(namespace: str, worker: Callable[..., Worker]) -> None:
    node = subprocess.Popen(
        [NODE, "--import", "tsx", "test/fixtures/mixed-fleet.ts", REDIS_URL, namespace, str(SECONDS), "2"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        w = worker("prefork", concurrency=4)
        assert node.stdout is not None and node.stdin is not None
        assert json.loads(node.stdout.readline())["event"] == "ready", "the coordinator, its threads and its fork are up"
        # Everyone starts at one instant, with time for the Celery worker to finish booting.
        start = time.time() + 2
        node.stdin.write(f"{int(start * 1000)}\n")
        node.stdin.flush()
        for _ in range(4):
            send(w, "saturate", start, SECONDS)
        done = json.loads(node.stdout.readline())
        assert done["event"] == "done"
        python = w.wait_for(4, 30, lambda e: e["event"] == "saturated")
    finally:
        if node.stdin:
            node.stdin.close()
        try:
            node.wait(15)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait(5)
    agents: Dict[str, List[float]] = done["grants"]
    assert sorted(agents) == ["cluster-fork", "thread-1", "thread-2"]
    node_ms = [t for stamps in agents.values() for t in stamps]
    python_ms = [s * 1000 for e in python for s in e["stamps"]]
    assert node_ms and python_ms, "both sides got permits"
    lo, hi = start * 1000, start * 1000 + SECONDS * 1000
    stamps = sorted(t for t in node_ms + python_ms if lo <= t < hi)
    # In any window of length T (between two grants), at most burst + rate·T grants. The stamps are
    # epoch milliseconds (a double resolves ~0.25 µs there, and Python's went through seconds):
    # 1/1000 of a grant (25 µs at 40/s) absorbs that rounding; one grant too many would not pass.
    for i in range(len(stamps)):
        for j in range(i, len(stamps)):
            allowed = BURST + RATE * (stamps[j] - stamps[i]) / 1000
            assert j - i + 1 <= allowed + 1e-3, f"{j - i + 1} grants within {stamps[j] - stamps[i]:.4f} ms"
    ideal = BURST + RATE * SECONDS
    assert len(stamps) >= 0.95 * ideal, f"{len(stamps)} grants of {ideal:g} possible ({100 * len(stamps) / ideal:.1f}%)"
    shares = {name: len([t for t in ms if lo <= t < hi]) for name, ms in {**agents, "celery": python_ms}.items()}
    assert all(n > 0 for n in shares.values()), f"every member is served: {shares}"
    print(f"mixed fleet: {len(stamps)} grants in {SECONDS:g} s = {100 * len(stamps) / ideal:.1f}% of {ideal:g}; by member {shares}")
