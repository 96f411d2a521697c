/**
 * Clones are cheap and idle ones are evicted: a million distinct keys touched once must not
 * keep more than ~200 bytes each once idle. Measured in a child process with a full GC.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

test('1,000,000 keys touched once keep < 200 bytes each after they go idle', () => {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', new URL('../fixtures/idle-keys.ts', import.meta.url).pathname, '1000000'],
    { encoding: 'utf8', timeout: 240_000 },
  );
  const result = JSON.parse(out.trim().split('\n').at(-1) as string) as { perKeyIdle: number; perKeyWhileActive: number };
  console.log(`heap per key: ${result.perKeyWhileActive.toFixed(0)} B while active, ${result.perKeyIdle.toFixed(1)} B once idle`);
  assert.ok(result.perKeyIdle < 200, `idle keys keep ${result.perKeyIdle} bytes each`);
});
