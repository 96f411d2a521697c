/**
 * FIFO of waiters for one limiter key. Waiters leave in the middle (timeout, abort, a client
 * going away) far more often than they are granted out of order, so removal only marks the
 * waiter settled and `front()` drops settled entries when they reach the head: every
 * operation is O(1) amortised however many thousands wait.
 *
 *   items: [ settled | settled | w3 | settled | w5 | w6 ]
 *                               ^ head (after front() skips the dead prefix)
 */

export interface Queued {
  settled: boolean;
}

export class WaiterQueue<T extends Queued> {
  #items: T[] = [];
  #head = 0;
  #live = 0;

  /** Waiters not yet settled. */
  get size(): number {
    return this.#live;
  }

  push(waiter: T): void {
    this.#items.push(waiter);
    this.#live++;
  }

  /** Settles a waiter that is in this queue: it no longer counts and will be skipped. */
  settle(waiter: T): void {
    waiter.settled = true;
    this.#live--;
  }

  /** The first live waiter, if any. */
  peek(): T | undefined {
    this.#dropSettled();
    return this.#items[this.#head];
  }

  /** Up to `n` live waiters from the front, in order. */
  front(n: number): T[] {
    this.#dropSettled();
    const out: T[] = [];
    for (let i = this.#head; i < this.#items.length && out.length < n; i++) {
      const w = this.#items[i] as T;
      if (!w.settled) out.push(w);
    }
    return out;
  }

  /** Every live waiter, in order (for shutdown and reconfiguration). */
  live(): T[] {
    return this.front(Infinity);
  }

  #dropSettled(): void {
    const items = this.#items;
    let head = this.#head;
    while (head < items.length && (items[head] as T).settled) head++;
    if (head === items.length) {
      items.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > items.length) {
      items.splice(0, head);
      head = 0;
    }
    this.#head = head;
  }
}
