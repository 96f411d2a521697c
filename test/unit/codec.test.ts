/** Compact forms of the hot messages: exact round trips, and everything else passed through. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClientMessage } from '../../src/coordinator/protocol.js';
import { decode, encode } from '../../src/threads/codec.js';

const roundTrip = (message: unknown): unknown => decode(JSON.parse(JSON.stringify(encode(message))));

test('acquire, release, cancel and grants survive a JSON round trip in their compact forms', () => {
  const messages = [
    { v: 1, type: 'acquire', id: 7, limiter: 'api', cost: 1 },
    { v: 1, type: 'acquire', id: 8, limiter: 'api', cost: 3, timeoutMs: 0 },
    { v: 1, type: 'acquire', id: 9, limiter: 'api', cost: 1, timeoutMs: null },
    { v: 1, type: 'acquire', id: 10, limiter: 'api', cost: 1, timeoutMs: 2500, key: 'user:1' },
    { v: 1, type: 'release', lease: 'Xk3f9aQ1.42' },
    { v: 1, type: 'cancel', id: 11 },
    { v: 1, type: 'reply', id: 12, ok: true, value: { lease: null, grantedAt: 1796318756595.65 } },
    { v: 1, type: 'reply', id: 13, ok: true, value: { lease: 'Xk3f9aQ1.43', grantedAt: 1796318756596 } },
  ];
  for (const message of messages) {
    assert.ok(Array.isArray(encode(message)), `${JSON.stringify(message)} has a compact form`);
    assert.deepEqual(roundTrip(message), message);
  }
  assert.deepEqual(parseClientMessage(roundTrip(messages[3])), { ok: true, message: messages[3] });
});

test('other messages, string ids and non-grant replies stay objects', () => {
  for (const message of [
    { v: 1, type: 'hello', client: { kind: 'thread', pid: 1, threadId: 2 } },
    { v: 1, type: 'acquire', id: 'a-string-id', limiter: 'api', cost: 1 },
    { v: 1, type: 'reply', id: 1, ok: true, value: { limiter: 'api', allowed: true } },
    { v: 1, type: 'reply', id: 2, ok: false, error: { code: 'ERR_RATE_LIMIT_TIMEOUT', message: 'late' } },
    { v: 2, type: 'acquire', id: 3, limiter: 'api', cost: 1 },
  ]) {
    assert.equal(encode(message), message);
  }
});

test('what a decoder does not recognise passes through, for the coordinator to refuse', () => {
  for (const item of [[], [99, 1], 'text', 42, null, { any: 'object' }]) assert.equal(decode(item), item);
  const parsed = parseClientMessage(decode([1, 5]));
  assert.equal(parsed.ok, false);
  assert.match(parsed.ok ? '' : parsed.error.message, /field "limiter"/);
});
