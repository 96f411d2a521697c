"""The Celery app of the tests: the user guide's Celery task, ported by changing the import (and
``asyncio.run`` for ``get_event_loop().run_until_complete``), plus the decorator and a task that
holds a concurrency slot. Configured from the environment the test gives the worker; the bridge
client reads RATE_SYNC_BRIDGE_URL / RATE_SYNC_BRIDGE_NAMESPACE like a deployed worker would."""

from __future__ import annotations

import asyncio
import json
import os
import time

import redis
from celery import Celery

from ratesync_bridge import get_or_clone_limiter
from ratesync_bridge.celery import rate_limited
from ratesync_bridge.sync import get_limiter

app = Celery("tests", broker=os.environ["CELERY_TEST_BROKER"])
app.conf.task_default_queue = os.environ["CELERY_TEST_QUEUE"]
app.conf.worker_hijack_root_logger = False
app.conf.broker_connection_retry_on_startup = True

ACQUIRE_TIMEOUT = float(os.environ.get("CELERY_TEST_ACQUIRE_TIMEOUT", "60"))
_results = redis.Redis.from_url(os.environ["CELERY_TEST_RESULTS_URL"])


def record(**event: object) -> None:
    _results.rpush(os.environ["CELERY_TEST_RESULTS_KEY"], json.dumps({"pid": os.getpid(), **event}))


class external_api:  # the third-party API of the user guide
    @staticmethod
    async def sync(user_id: str, granted_at: float) -> None:
        record(event="granted", user=user_id, at=granted_at)


@app.task(bind=True)
def sync_user(self, user_id: str) -> None:
    async def _sync() -> None:
        limiter = await get_or_clone_limiter("external_api", "celery")
        try:
            permit = await limiter.acquire(timeout=ACQUIRE_TIMEOUT)
            await external_api.sync(user_id, permit.granted_at)
        except TimeoutError:
            record(event="retry", user=user_id, countdown=60)
            raise sync_user.retry(countdown=60, max_retries=3)

    asyncio.run(_sync())


@app.task(bind=True, max_retries=20)
@rate_limited("external_api", key="decorated", timeout=ACQUIRE_TIMEOUT, retry_countdown=0.2)
def decorated(self, n: int) -> None:
    record(event="granted", n=n, at=time.time(), retries=self.request.retries)


@app.task
def hold_slot(seconds: float) -> None:
    permit = get_limiter("slots").acquire(timeout=10)
    record(event="holding", lease=permit.lease)
    time.sleep(seconds)
    permit.release()


@app.task
def saturate(start: float, seconds: float) -> None:
    """Takes permits of shared_api back to back from ``start`` (epoch s) for ``seconds``."""
    limiter = get_limiter("shared_api")
    time.sleep(max(0.0, start - time.time()))
    stamps = []
    while time.time() < start + seconds:
        stamps.append(limiter.acquire(timeout=5).granted_at)
    record(event="saturated", stamps=stamps)
