/**
 * The bridge's message format, from the vectors shared with the Python client's tests
 * (test/vectors/bridge-messages.json): what a Python client pushes is what the coordinator's
 * session receives, garbage is refused with the reply address that can still be read.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { encodeReply, parseEntry } from '../../src/celery-bridge/message.js';

interface Vectors {
  requests: { name: string; message: Record<string, unknown>; coordinator: Record<string, unknown> }[];
  garbage: {
    name: string;
    raw?: string;
    entry?: Record<string, unknown>;
    big?: { head: string; bytes: number; tail: string };
    reply: string | null;
    id: string | number | null;
    code: string;
    message: string;
  }[];
  replies: { name: string; raw: Record<string, unknown> }[];
}

const vectors = JSON.parse(readFileSync(new URL('../vectors/bridge-messages.json', import.meta.url), 'utf8')) as Vectors;
const AT = 1796318756595123;

function long(value: unknown): unknown {
  if (value === 'LONG129') return 'x'.repeat(129);
  if (value === 'LONG257') return 'x'.repeat(257);
  return value;
}

for (const v of vectors.requests) {
  test(`bridge request vector: ${v.name}`, () => {
    // The push script writes "at" first: `{"at":<µs>,` + the client's JSON without its `{`.
    const pushed = `{"at":${AT},${JSON.stringify(v.message).slice(1)}`;
    const result = parseEntry(pushed);
    assert.ok(result.ok, result.ok ? '' : result.error.message);
    assert.deepEqual(result.entry.message, v.coordinator);
    assert.equal(result.entry.atUs, AT);
    assert.equal(result.entry.client, v.message['client']);
    assert.equal(result.entry.reply, v.message['reply']);
    assert.equal(result.entry.ttlMs, v.message['ttlMs']);
  });
}

for (const v of vectors.garbage) {
  test(`bridge garbage vector: ${v.name}`, () => {
    let raw: string;
    if (v.raw !== undefined) raw = v.raw;
    else if (v.big !== undefined) raw = v.big.head + 'x'.repeat(v.big.bytes - v.big.head.length - v.big.tail.length) + v.big.tail;
    else raw = JSON.stringify(Object.fromEntries(Object.entries(v.entry ?? {}).map(([k, x]) => [k, long(x)])));
    const result = parseEntry(raw);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.reply ?? null, v.reply);
    assert.equal(result.id ?? null, v.id);
    assert.equal(result.error.code, v.code);
    assert.match(result.error.message, new RegExp(v.message));
  });
}

test('replies travel as the coordinator message signed with the coordinator id (reply vectors)', () => {
  for (const v of vectors.replies) {
    const { coordinator, ...message } = v.raw;
    assert.deepEqual(JSON.parse(encodeReply(message as never, coordinator as string)), v.raw, v.name);
  }
});

test('the push script is the one the Python package ships, and it stamps "at" first', () => {
  const script = readFileSync(new URL('../../python/ratesync_bridge/push.lua', import.meta.url), 'utf8');
  assert.match(script, /redis\.call\('TIME'\)/);
  assert.match(script, /'\{"at":' \.\. at \.\. ',' \.\. string\.sub\(m, 2\)/);
});
