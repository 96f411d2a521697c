"""One Python client process of bench/bridge.ts.

Usage: bridge_client.py API SECONDS SLOT_SECONDS START_EPOCH URL ECHO_NAMESPACE BRIDGE_NAMESPACE
Alternates, in time slots shared by every client process (slot k starts at START_EPOCH + k·SLOT),
between the raw echo (even slots: plain RPUSH + BLPOP over the bridge's lists, answered by a
bare Node echo) and ratesync_bridge ``acquire()`` (odd slots), so both see the same machine.
API: sync | async. Prints one JSON line: {"echo": {...}, "acquire": {...}} with, for each, the
calls made, the seconds spent in its slots, the CPU seconds and every latency in µs.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any, Callable, Dict

import redis
import redis.asyncio as aioredis

import ratesync_bridge
from ratesync_bridge import sync

api, seconds, slot, start, url, echo_ns, bridge_ns = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
channel = f"echo-{os.getpid()}"
requests = f"{echo_ns}:bridge:requests"
reply_key = f"{echo_ns}:bridge:reply:{channel}"
ratesync_bridge.configure(url=url, namespace=bridge_ns)


def message(n: int) -> str:
    # The same shape as an acquire, so the echo reads the same fields the bridge reads.
    return json.dumps({"v": 1, "client": channel, "reply": channel, "type": "acquire", "id": str(n), "limiter": "open", "cost": 1, "timeoutMs": 1000})


def mode_at(now: float) -> str:
    return "echo" if int((now - start) / slot) % 2 == 0 else "acquire"


def empty() -> Dict[str, Any]:
    return {"count": 0, "seconds": 0.0, "cpu_seconds": 0.0, "latencies_us": []}


def account(stats: Dict[str, Dict[str, Any]], mode: str, t0: float, t1: float, c0: float, c1: float) -> None:
    s = stats[mode]
    s["count"] += 1
    s["seconds"] += t1 - t0
    s["cpu_seconds"] += c1 - c0
    s["latencies_us"].append((t1 - t0) * 1e6)


def run_sync() -> Dict[str, Any]:
    r = redis.Redis.from_url(url, socket_timeout=10)
    limiter = sync.get_limiter("open")

    def echo(n: int) -> None:
        r.rpush(requests, message(n))
        r.blpop([reply_key], timeout=5)

    calls: Dict[str, Callable[[int], Any]] = {"echo": echo, "acquire": lambda n: limiter.acquire(timeout=1)}
    for n in range(50):  # warm-up: connections, script cache
        echo(n)
        limiter.acquire(timeout=1)
    stats = {"echo": empty(), "acquire": empty()}
    while time.time() < start:
        time.sleep(0.001)
    end, n = start + seconds, 0
    while True:
        now = time.time()
        if now >= end:
            return stats
        mode = mode_at(now)
        t0, c0 = time.perf_counter(), time.process_time()
        calls[mode](n)
        account(stats, mode, t0, time.perf_counter(), c0, time.process_time())
        n += 1


async def run_async() -> Dict[str, Any]:
    r = aioredis.Redis.from_url(url, socket_timeout=10)
    limiter = await ratesync_bridge.get_limiter("open")

    async def echo(n: int) -> None:
        await r.rpush(requests, message(n))
        await r.blpop([reply_key], timeout=5)

    async def acquire(n: int) -> None:
        await limiter.acquire(timeout=1)

    calls = {"echo": echo, "acquire": acquire}
    for n in range(50):
        await echo(n)
        await acquire(n)
    stats = {"echo": empty(), "acquire": empty()}
    while time.time() < start:
        await asyncio.sleep(0.001)
    end, n = start + seconds, 0
    while True:
        now = time.time()
        if now >= end:
            return stats
        mode = mode_at(now)
        t0, c0 = time.perf_counter(), time.process_time()
        await calls[mode](n)
        account(stats, mode, t0, time.perf_counter(), c0, time.process_time())
        n += 1


print(json.dumps(run_sync() if api == "sync" else asyncio.run(run_async())))
