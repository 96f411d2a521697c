"""The Redis ACLs of docs/bridge-protocol.md: a bridge client can use the bridge and nothing else;
the coordinator runs with its own restricted user."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Callable, Iterator

import pytest
import redis

import ratesync_bridge as rb
from ratesync_bridge import sync

from conftest import REDIS_URL, Coordinator, needs_redis

pytestmark = needs_redis


def client_rules(ns: str) -> list:
    p = f"{ns}:bridge:"
    root = f"on >client-pw resetkeys resetchannels -@all +ping +evalsha +script|load +time +rpush +pexpire +exists"
    keys = f"~{p}requests ~{p}coordinator:* %R~{p}coordinators"
    # A selector: BLPOP only on reply lists (so a client cannot pop others' requests).
    return [*root.split(), *keys.split(), f"(+blpop ~{p}reply:*)"]


def coordinator_rules(ns: str) -> list:
    return (f"on >coordinator-pw resetkeys resetchannels -@all +ping +info +client|setname +select +time +blpop +blmpop +lpop +rpush "
            f"+pexpire +evalsha +eval +hgetall +hset +hdel ~{ns}:bridge:*").split()


@pytest.fixture
def users(namespace: str) -> Iterator[dict]:
    admin = redis.Redis.from_url(REDIS_URL)
    names = {"client": f"rsc-{uuid.uuid4().hex[:8]}", "coordinator": f"rsk-{uuid.uuid4().hex[:8]}"}
    admin.execute_command("ACL", "SETUSER", names["client"], *client_rules(namespace))
    admin.execute_command("ACL", "SETUSER", names["coordinator"], *coordinator_rules(namespace))
    yield names
    admin.execute_command("ACL", "DELUSER", names["client"], names["coordinator"])


def with_user(user: str, password: str) -> str:
    return REDIS_URL.replace("redis://", f"redis://{user}:{password}@", 1)


def test_bridge_clients_and_coordinator_work_with_the_documented_acls(
    users: dict, namespace: str, tmp_path, coordinator: Callable[[str], Coordinator]
) -> None:
    file = tmp_path / "acl.toml"
    file.write_text(f'[limiters.api]\nstore = "memory"\nmax_concurrent = 1\nlease_seconds = 1\n\n[bridge]\nurl = "{with_user(users["coordinator"], "coordinator-pw")}"\nnamespace = "{namespace}"\n')
    served = Coordinator(file).start()
    # A fresh server (or one restarted): the clients must load their script within their ACL.
    redis.Redis.from_url(REDIS_URL).script_flush()
    try:
        rb.configure(url=with_user(users["client"], "client-pw"), namespace=namespace)
        limiter = sync.get_limiter("api")
        with limiter.acquire_context(timeout=1):
            time.sleep(1.5)  # renewed through the ACL'd connection
            assert not limiter.try_acquire(0)

        async def run() -> bool:
            limiter = await rb.get_limiter("api")
            got = await limiter.try_acquire(timeout=1)
            await limiter.release()
            return got

        redis.Redis.from_url(REDIS_URL).script_flush()  # and the async client too
        assert asyncio.run(run())
        r = redis.Redis.from_url(with_user(users["client"], "client-pw"))
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.get("some-other-key")
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.rpush("some-other-list", "x")
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.blpop([f"{namespace}:bridge:requests"], timeout=0.1)  # may push requests, not steal them
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.flushdb()
    finally:
        served.stop()
    assert served.stats()["received"] >= 4
