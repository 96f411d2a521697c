"""examples/celery as a user runs it: `ratesync serve` with the example's quota, a real Celery
worker started in the example's directory (`celery -A tasks worker`), and `python send.py`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

from conftest import ROOT, REDIS_URL, Coordinator, needs_redis, start_celery_worker, stop_celery_worker

pytestmark = needs_redis

EXAMPLE = ROOT / "examples" / "celery"


def test_the_celery_example_syncs_every_user_within_the_quota(coordinator: Callable[[str], Coordinator], namespace: str) -> None:
    # The example's limiters, served for this test's bridge namespace (the fixture adds [bridge]).
    limiters = (EXAMPLE / "rate-sync.toml").read_text().split("[bridge]")[0]
    assert "[limiters.external_api]" in limiters
    coordinator(limiters)
    env = {
        **os.environ,
        "RATE_SYNC_BRIDGE_URL": REDIS_URL,
        "RATE_SYNC_BRIDGE_NAMESPACE": namespace,
        # A database of the run's throwaway Redis of its own, as broker and result backend.
        "CELERY_BROKER_URL": REDIS_URL.rsplit("/", 1)[0] + "/3",
        "SYNC_USER_ACQUIRE_TIMEOUT": "2",
        "SYNC_USER_RETRY_COUNTDOWN": "0.5",
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE), os.environ.get("PYTHONPATH", "")]),
    }
    worker = start_celery_worker("tasks", EXAMPLE, env, "prefork", 4)
    try:
        sent = subprocess.run([sys.executable, "send.py", "--users", "12", "--wait", "60"], cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=90)
    finally:
        stop_celery_worker(worker)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    print(sent.stdout)
    m = re.search(r"(\d+) users synced by (\d+) worker processes in ([\d.]+) s", sent.stdout)
    assert m, sent.stdout
    assert m.group(1) == "12"
    # 12 grants at 5/s, burst 1: at least 11 intervals of 0.2 s.
    assert float(m.group(3)) >= 2.2 - 0.01, sent.stdout
    assert "the quota was never exceeded" in sent.stdout
