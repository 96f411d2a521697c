/** The system clock's precise timers, and which waits the coordinator asks them for. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock, type TimerOptions } from '../../src/clock.js';
import { RateSync } from '../../src/index.js';
import { FakeClock } from '../../src/testing.js';

test('a precise timer never fires before its instant and fires soon after it', async () => {
  const lateness: number[] = [];
  await Promise.all(
    Array.from({ length: 40 }, (_, i) => {
      const ms = (i % 8) * 0.7;
      const dueAt = performance.now() + ms;
      return new Promise<void>((resolve) => {
        systemClock.setTimeout(() => {
          lateness.push(performance.now() - dueAt);
          resolve();
        }, ms, { precise: true });
      });
    }),
  );
  assert.equal(lateness.filter((late) => late < 0).length, 0, `fired early: ${lateness.filter((l) => l < 0).join(', ')}`);
  // Tolerant: a noisy 2-core machine may delay any callback; early firing is the bug looked for.
  assert.ok(Math.max(...lateness) < 50, `latest ${Math.max(...lateness).toFixed(2)} ms`);
});

test('clearTimeout cancels a precise timer in its coarse wait and in its last millisecond', async () => {
  let fired = 0;
  systemClock.clearTimeout(systemClock.setTimeout(() => fired++, 5, { precise: true }));
  systemClock.clearTimeout(systemClock.setTimeout(() => fired++, 0.5, { precise: true }));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(fired, 0);
});

/** A fake clock that notes the options of every timer armed on it. */
class RecordingClock extends FakeClock {
  readonly armed: { ms: number; options: TimerOptions }[] = [];
  override setTimeout(fn: () => void, ms: number, options: TimerOptions = {}) {
    this.armed.push({ ms, options });
    return super.setTimeout(fn, ms, options);
  }
}

async function headTimer(limiter: { ratePerSecond: number; burst: number }): Promise<{ ms: number; precise: boolean }> {
  const clock = new RecordingClock();
  const rs = new RateSync({ clock, configFile: false });
  rs.configureLimiter('api', { store: 'memory', ...limiter });
  const api = await rs.getLimiter('api');
  for (let i = 0; i < limiter.burst; i++) await api.acquire();
  clock.armed.length = 0;
  const waiting = api.acquire();
  await clock.advance(0);
  const timer = clock.armed.find((t) => t.options.weak !== true);
  await clock.advance(1000);
  await waiting;
  await rs.shutdown();
  assert.ok(timer, 'the waiting key armed a timer');
  return { ms: timer.ms, precise: timer.options.precise === true };
}

test('the coordinator asks for a precise wake only where the burst cannot absorb a late one', async () => {
  const evenlySpaced = await headTimer({ ratePerSecond: 200, burst: 1 });
  assert.equal(evenlySpaced.precise, true);
  assert.equal(evenlySpaced.ms, 5, 'the head waits exactly one interval');
  assert.equal((await headTimer({ ratePerSecond: 200, burst: 10 })).precise, false);
  assert.equal((await headTimer({ ratePerSecond: 5000, burst: 5 })).precise, true, '4 × 0.2 ms of slack < 1 ms');
  assert.equal((await headTimer({ ratePerSecond: 10, burst: 1 })).precise, false, '100 ms between grants');
});
