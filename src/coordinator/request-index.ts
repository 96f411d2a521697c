/**
 * A peer's pending requests by id. A long-lived Map whose keys are each inserted and deleted
 * once (every request that queues) keeps reallocating its table, and the young waiters it
 * points to from old space get promoted: under an async store (Redis), where every request
 * queues, that cost as much CPU per permit as the rest of the coordinator (in GC). Number ids
 * (the transports use sequence numbers) live in a null-prototype object, whose dictionary
 * reuses deleted slots; string ids in a Map.
 */
import type { RequestId } from './protocol.js';

export class RequestIndex<T> {
  #numbers: Record<number, T> = Object.create(null) as Record<number, T>;
  readonly #strings = new Map<string, T>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(id: RequestId): T | undefined {
    return typeof id === 'number' ? this.#numbers[id] : this.#strings.get(id);
  }

  has(id: RequestId): boolean {
    return this.get(id) !== undefined;
  }

  set(id: RequestId, value: T): void {
    if (!this.has(id)) this.#size++;
    if (typeof id === 'number') this.#numbers[id] = value;
    else this.#strings.set(id, value);
  }

  delete(id: RequestId): void {
    if (!this.has(id)) return;
    this.#size--;
    if (typeof id === 'number') delete this.#numbers[id];
    else this.#strings.delete(id);
    // An empty dictionary starts afresh rather than keep the capacity of its busiest moment.
    if (this.#size === 0) this.#numbers = Object.create(null) as Record<number, T>;
  }

  values(): T[] {
    return [...Object.values(this.#numbers), ...this.#strings.values()];
  }
}
