"""Celery helpers (import this module only where Celery is installed).

    from ratesync_bridge.celery import rate_limited

    @app.task(bind=True, max_retries=3)
    @rate_limited("external_api", key="celery", timeout=60, retry_countdown=60)
    def sync_user(self, user_id): ...

The task runs holding a permit of ``external_api:celery`` and releases it when it returns or
raises. When no permit comes within ``timeout`` seconds, the task is retried with
``self.retry(countdown=retry_countdown)`` (so it does not hold a worker while it waits longer),
until Celery's ``max_retries``, after which the RateLimitTimeoutError is raised.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, TypeVar, cast

from celery import Task, current_task

from . import sync
from ._errors import RateLimitTimeoutError

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["rate_limited"]


def rate_limited(
    limiter: str,
    key: Optional[str] = None,
    *,
    timeout: Optional[float] = None,
    retry_countdown: Optional[float] = 60,
    cost: int = 1,
) -> Callable[[F], F]:
    """Runs the task holding a permit of ``limiter`` (``limiter:key`` with a key).

    ``timeout``: seconds to wait for the permit (None: the limiter's ``timeout``, else forever).
    ``retry_countdown``: on timeout, retry the task after this many seconds; None: raise the
    RateLimitTimeoutError instead.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            lim = sync.get_limiter(limiter) if key is None else sync.get_or_clone_limiter(limiter, key)
            try:
                permit = lim.acquire(timeout=timeout, cost=cost)
            except RateLimitTimeoutError as err:
                if retry_countdown is None:
                    raise
                task = args[0] if args and isinstance(args[0], Task) else current_task
                if task is None:
                    raise
                raise task.retry(countdown=retry_countdown, exc=err)
            with permit:
                return fn(*args, **kwargs)

        return cast(F, run)

    return decorate
