"""Enqueues ``sync_user`` for a batch of users and waits for every result, then checks what the
external API saw: never more than its quota, whichever worker process made the call.

    python send.py [--users 20]       # with `ratesync serve` and a Celery worker running
"""

from __future__ import annotations

import argparse

from tasks import sync_user

RATE, BURST = 5.0, 1  # external_api in rate-sync.toml: rate_per_second = 5 (burst 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for the results")
    args = parser.parse_args()

    pending = [sync_user.delay(f"user-{n}") for n in range(args.users)]
    results = [r.get(timeout=args.wait) for r in pending]

    # At most burst + rate·T grants in any interval of length T (the grant instants are the
    # coordinator's, in epoch seconds).
    stamps = sorted(r["granted_at"] for r in results)
    over = sum(
        1
        for i in range(len(stamps))
        for j in range(i, len(stamps))
        if j - i + 1 > BURST + RATE * (stamps[j] - stamps[i]) + 1e-9
    )
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    workers = len({r["worker"] for r in results})
    retries = sum(r["retries"] for r in results)
    print(f"{len(results)} users synced by {workers} worker processes in {span:.1f} s, {retries} retries")
    print("the quota was never exceeded" if over == 0 else f"QUOTA EXCEEDED in {over} intervals")


if __name__ == "__main__":
    main()
