"""The user guide's Celery task, ported to rate-sync for Node: every worker process of every
Celery worker takes its permits for ``external_api`` from one ``ratesync serve`` coordinator, so
the whole fleet keeps the API's quota (5 calls a second, 2 at a time) together.

    celery -A tasks worker --concurrency 4        # in this directory, with `ratesync serve` running

Two changes from the user guide: the import (``ratesync_bridge``), and ``asyncio.run()`` instead
of ``asyncio.get_event_loop().run_until_complete()``, which breaks after any ``asyncio.run()``
in the same process. The permit is released after the call: ``external_api`` has
``max_concurrent = 2``, and a permit never released would keep its slot.
"""

from __future__ import annotations

import asyncio
import os
import random
from urllib.parse import urlsplit

from celery import Celery

from ratesync_bridge import get_or_clone_limiter

# The broker and result backend: CELERY_BROKER_URL, else database 1 of the bridge's Redis.
BROKER = os.environ.get("CELERY_BROKER_URL") or urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")._replace(path="/1").geturl()
app = Celery("tasks", broker=BROKER, backend=BROKER)
app.conf.broker_connection_retry_on_startup = True

# The user guide waits up to 60 s for a permit and retries a minute later; the tests run shorter.
ACQUIRE_TIMEOUT = float(os.environ.get("SYNC_USER_ACQUIRE_TIMEOUT", "60"))
RETRY_COUNTDOWN = float(os.environ.get("SYNC_USER_RETRY_COUNTDOWN", "60"))


class external_api:  # noqa: N801 - the third-party API of the user guide, simulated
    @staticmethod
    async def sync(user_id: str) -> None:
        await asyncio.sleep(0.05 + random.random() * 0.1)


@app.task
def sync_user(user_id: str) -> dict:
    async def _sync() -> dict:
        limiter = await get_or_clone_limiter("external_api", "celery")
        try:
            permit = await limiter.acquire(timeout=ACQUIRE_TIMEOUT)
        except TimeoutError:
            raise sync_user.retry(countdown=RETRY_COUNTDOWN, max_retries=3)
        try:
            await external_api.sync(user_id)
        finally:
            await permit.release()
        return {"user": user_id, "granted_at": permit.granted_at, "worker": os.getpid(), "retries": sync_user.request.retries}

    return asyncio.run(_sync())

