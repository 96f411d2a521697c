"""Fixtures for the bridge client's tests: the run's Redis (started by `npm test`), a fresh
namespace per test, and real `ratesync serve` coordinators (the built Node CLI)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import redis

import ratesync_bridge

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parents[1]
CLI = ROOT / "dist" / "cli" / "main.js"
NODE = os.environ.get("RATE_SYNC_TEST_NODE", "node")
REDIS_URL = os.environ.get("RATE_SYNC_TEST_REDIS_URL", "")
REDIS_SKIP = os.environ.get("RATE_SYNC_TEST_REDIS_SKIP") or (
    None if REDIS_URL else "no Redis for this run (run the suite with `npm test`)"
)

needs_redis = pytest.mark.skipif(REDIS_SKIP is not None, reason=REDIS_SKIP or "")


class Coordinator:
    """A `ratesync serve` process with its own configuration file."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.events: List[Dict[str, Any]] = []
        self.process: Optional[subprocess.Popen] = None
        self._ready = threading.Event()

    def start(self) -> "Coordinator":
        self.events = []
        self._ready.clear()
        self.process = subprocess.Popen(
            # Any free metrics port: several coordinators may run at once.
            [NODE, str(CLI), "serve", "--config", str(self.file), "--metrics-port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        if not self._ready.wait(15):
            self.process.kill()
            raise RuntimeError(f"ratesync serve did not get ready: {self.process.stderr.read() if self.process.stderr else ''}")
        return self

    def _read(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            event = json.loads(line)
            self.events.append(event)
            if event.get("event") == "ready":
                self._ready.set()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(15)

    def stats(self) -> Dict[str, Any]:
        """The bridge's counters, from the `stopped` log line (after stop())."""
        stopped = [e for e in self.events if e.get("event") == "stopped"]
        return stopped[-1]["bridge"] if stopped else {}


@pytest.fixture
def namespace() -> str:
    return "py" + uuid.uuid4().hex[:12]


@pytest.fixture
def bridge(namespace: str) -> Iterator[str]:
    """The client configured for this test's namespace."""
    ratesync_bridge.configure(url=REDIS_URL, namespace=namespace)
    yield namespace


@pytest.fixture
def coordinator(tmp_path: Path, namespace: str, bridge: str) -> Iterator[Callable[[str], Coordinator]]:
    """``coordinator(limiters_toml)`` starts `ratesync serve` for this test's namespace."""
    started: List[Coordinator] = []

    def start(limiters: str) -> Coordinator:
        file = tmp_path / f"rate-sync-{len(started)}.toml"
        file.write_text(f'{limiters}\n\n[bridge]\nurl = "{REDIS_URL}"\nnamespace = "{namespace}"\n')
        c = Coordinator(file).start()
        started.append(c)
        return c

    yield start
    for c in started:
        if c.running:
            c.stop(signal.SIGKILL)


def broker_url() -> str:
    return REDIS_URL.rsplit("/", 1)[0] + "/1"


def start_celery_worker(app: str, cwd: Path, env: Dict[str, str], pool: str, concurrency: int, queue: Optional[str] = None) -> subprocess.Popen:
    """`celery -A app worker` in `cwd`, in its own process group (so the pool's children go with it at the end)."""
    args = [sys.executable, "-m", "celery", "-A", app, "worker", f"--pool={pool}", f"--concurrency={concurrency}"]
    args += ["--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    if queue is not None:
        args += ["-Q", queue]
    return subprocess.Popen(args, cwd=cwd, env=env, start_new_session=True)


def stop_celery_worker(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)


class Worker:
    def __init__(self, namespace: str, pool: str, concurrency: int, acquire_timeout: float) -> None:
        self.results_key = f"{namespace}:test-results"
        self.queue = f"{namespace}-queue"
        self.redis = redis.Redis.from_url(REDIS_URL)
        # The pool's multiprocessing temp dirs (pymp-*) go here: a worker killed with SIGKILL cannot remove them itself.
        self.tmp = tempfile.mkdtemp(prefix="ratesync-celery-")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
            "CELERY_TEST_BROKER": broker_url(),
            "CELERY_TEST_QUEUE": self.queue,
            "CELERY_TEST_RESULTS_URL": REDIS_URL,
            "CELERY_TEST_RESULTS_KEY": self.results_key,
            "CELERY_TEST_ACQUIRE_TIMEOUT": str(acquire_timeout),
            "RATE_SYNC_BRIDGE_URL": REDIS_URL,
            "RATE_SYNC_BRIDGE_NAMESPACE": namespace,
            "TMPDIR": self.tmp,
        }
        self.process = start_celery_worker("celery_app", TESTS, env, pool, concurrency, self.queue)
        import celery_app  # noqa: F401 - same module, used here to send tasks

        self.app = celery_app
        self.app.app.conf.broker_url = broker_url()

    def events(self) -> List[Dict]:
        return [json.loads(e) for e in self.redis.lrange(self.results_key, 0, -1)]

    def wait_for(self, count: int, seconds: float, where: Callable[[Dict], bool] = lambda e: True) -> List[Dict]:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            found = [e for e in self.events() if where(e)]
            if len(found) >= count:
                return found
            assert self.process.poll() is None, f"the worker exited with {self.process.returncode}"
            time.sleep(0.1)
        raise AssertionError(f"waited {seconds} s for {count} events, got {self.events()}")

    def stop(self) -> None:
        stop_celery_worker(self.process)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def worker(namespace: str, bridge: str) -> Iterator[Callable[..., Worker]]:
    os.environ["CELERY_TEST_BROKER"] = broker_url()
    os.environ["CELERY_TEST_RESULTS_URL"] = REDIS_URL
    started: List[Worker] = []

    def start(pool: str, concurrency: int = 4, acquire_timeout: float = 60) -> Worker:
        os.environ["CELERY_TEST_QUEUE"] = f"{namespace}-queue"
        os.environ["CELERY_TEST_RESULTS_KEY"] = f"{namespace}:test-results"
        w = Worker(namespace, pool, concurrency, acquire_timeout)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def send(w: Worker, task: str, *args: object) -> None:
    w.app.app.send_task(f"celery_app.{task}", args=args, queue=w.queue)
