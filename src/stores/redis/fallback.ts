/**
 * The local fallback share: what one host may grant on its own while Redis is unreachable, so
 * that `expected_hosts` hosts falling back at once grant no more than the quota together.
 * Each part of the policy is divided by the number of hosts: the rate and the burst, the
 * window's limit, the concurrency. A part never drops below one unit, so a tiny quota spread
 * over many hosts still lets each host work (that rounding is the only over-admission).
 */
import type { PolicyParams } from '../../algorithms/policy.js';
import type { LimiterSpec } from '../store.js';

const share = (units: number, hosts: number): number => Math.max(1, Math.floor(units / hosts));

export function fallbackPolicy(p: PolicyParams, hosts: number): PolicyParams {
  return {
    ...(p.rate === undefined ? {} : { rate: { intervalMs: p.rate.intervalMs * hosts, burst: share(p.rate.burst, hosts) } }),
    ...(p.window === undefined ? {} : { window: { limit: share(p.window.limit, hosts), windowMs: p.window.windowMs } }),
    ...(p.concurrency === undefined
      ? {}
      : { concurrency: { max: share(p.concurrency.max, hosts), leaseMs: p.concurrency.leaseMs } }),
  };
}

/** Fallback specs, one per limiter spec (specs are replaced, never mutated, on a reload). */
export class FallbackShares {
  readonly #hosts: number;
  readonly #specs = new WeakMap<LimiterSpec, LimiterSpec>();

  constructor(hosts: number) {
    this.#hosts = hosts;
  }

  of(spec: LimiterSpec): LimiterSpec {
    let local = this.#specs.get(spec);
    if (local === undefined) {
      local = { ...spec, policy: fallbackPolicy(spec.policy, this.#hosts) };
      this.#specs.set(spec, local);
    }
    return local;
  }
}
