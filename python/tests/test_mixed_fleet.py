"""A mixed fleet on one quota: Node callers in the coordinator's process and a Celery worker with
concurrency 4 share `rate_per_second = 40` (burst 5) for 5 s. Combined grants stay within
burst + 40·T in every window, and the quota is used (≥ 95%).

Worker threads and cluster forks join this fleet once their transports land (issue 3)."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Callable, List

from conftest import NODE, REDIS_URL, ROOT, Worker, needs_redis, send

pytestmark = needs_redis

RATE, BURST, SECONDS = 40, 5, 5.0


def test_node_callers_and_a_celery_worker_share_one_quota(namespace: str, worker: Callable[..., Worker]) -> None:
    start = time.time() + 4
    node = subprocess.Popen(
        [NODE, "--import", "tsx", "test/fixtures/mixed-fleet.ts", REDIS_URL, namespace, str(int(start * 1000)), str(SECONDS), "2"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert node.stdout is not None
        assert json.loads(node.stdout.readline())["event"] == "ready"
        w = worker("prefork", concurrency=4)
        for _ in range(4):
            send(w, "saturate", start, SECONDS)
        done = json.loads(node.stdout.readline())
        assert done["event"] == "done"
        python = w.wait_for(4, 30, lambda e: e["event"] == "saturated")
    finally:
        if node.stdin:
            node.stdin.close()
        node.wait(15)
    node_ms: List[float] = done["stamps"]
    python_ms = [s * 1000 for e in python for s in e["stamps"]]
    assert node_ms and python_ms, "both sides got permits"
    lo, hi = start * 1000, start * 1000 + SECONDS * 1000
    stamps = sorted(t for t in node_ms + python_ms if lo <= t < hi)
    # In any window of length T (between two grants), at most burst + rate·T grants.
    for i in range(len(stamps)):
        for j in range(i, len(stamps)):
            allowed = BURST + RATE * (stamps[j] - stamps[i]) / 1000
            assert j - i + 1 <= allowed + 1e-6, f"{j - i + 1} grants within {stamps[j] - stamps[i]:.1f} ms"
    ideal = BURST + RATE * SECONDS
    assert len(stamps) >= 0.95 * ideal, f"{len(stamps)} grants of {ideal:g} possible ({100 * len(stamps) / ideal:.1f}%)"
    share = len([t for t in python_ms if lo <= t < hi]) / len(stamps)
    print(f"mixed fleet: {len(stamps)} grants in {SECONDS:g} s = {100 * len(stamps) / ideal:.1f}% of {ideal:g}; Celery's share {100 * share:.0f}%")
