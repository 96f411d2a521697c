/**
 * The coordinator's message protocol, version 1. Every transport (MessagePort, cluster IPC,
 * the Celery bridge's Redis lists) carries exactly these objects; `docs/protocol.md` is its
 * prose twin. Messages are plain JSON-compatible data, so they survive structured clone and
 * JSON alike; `parseClientMessage` checks everything that arrives from outside the process.
 */
import { ProtocolError, type WireError } from '../errors.js';

export const PROTOCOL_VERSION = 1;

/** Request ids are chosen by the client and echoed in the reply. */
export type RequestId = number | string;

export type ClientKind = 'local' | 'thread' | 'fork' | 'bridge';

export interface HelloClient {
  kind: ClientKind;
  pid: number;
  threadId: number;
  label?: string;
  /**
   * The client renews its own leases: its death cannot be seen (a worker thread its main thread
   * did not start), so leases it stops renewing are reclaimed after lease_seconds.
   */
  renews?: boolean;
}

export interface HelloMessage {
  v: 1;
  type: 'hello';
  client: HelloClient;
}

export interface AcquireMessage {
  v: 1;
  type: 'acquire';
  id: RequestId;
  limiter: string;
  /** Clone key: the request is for `<limiter>:<key>` (getOrCloneLimiter). */
  key?: string;
  cost: number;
  /** Absent: the limiter's default; null: wait forever; 0: one try. */
  timeoutMs?: number | null;
}

/** Withdraws a pending acquire. Its reply still comes: an error, or a grant that lost the race. */
export interface CancelMessage {
  v: 1;
  type: 'cancel';
  id: RequestId;
}

/** Returns a lease. No reply; releasing an unknown or released lease is a no-op. */
export interface ReleaseMessage {
  v: 1;
  type: 'release';
  lease: string;
}

/** Keeps leases alive (clients whose death the coordinator cannot see: the Celery bridge, unwatched threads). */
export interface RenewMessage {
  v: 1;
  type: 'renew';
  id?: RequestId;
  leases: string[];
}

export interface StateMessage {
  v: 1;
  type: 'state';
  id: RequestId;
  limiter: string;
  key?: string;
}

export interface DescribeMessage {
  v: 1;
  type: 'describe';
  id: RequestId;
  limiter: string;
  key?: string;
}

export interface MetricsMessage {
  v: 1;
  type: 'metrics';
  id: RequestId;
  limiter: string;
  key?: string;
}

export interface CloneMessage {
  v: 1;
  type: 'clone';
  id: RequestId;
  source: string;
  newId: string;
  overrides: Record<string, unknown>;
}

export type ClientMessage =
  | HelloMessage
  | AcquireMessage
  | CancelMessage
  | ReleaseMessage
  | RenewMessage
  | StateMessage
  | DescribeMessage
  | MetricsMessage
  | CloneMessage;

export interface ReadyMessage {
  v: 1;
  type: 'ready';
  coordinator: { pid: number; version: string };
  /** The client must renew its leases itself (it said so in its hello). */
  renews?: true;
}

export type ReplyMessage =
  | { v: 1; type: 'reply'; id: RequestId; ok: true; value: unknown }
  | { v: 1; type: 'reply'; id: RequestId; ok: false; error: WireError };

/** An error that cannot be tied to a request (the message had no readable id). */
export interface ErrorMessage {
  v: 1;
  type: 'error';
  error: WireError;
}

export type CoordinatorMessage = ReadyMessage | ReplyMessage | ErrorMessage;

/** The value of a successful acquire reply. */
export interface Grant {
  /** Lease to release; null when the limiter has no `max_concurrent`. */
  lease: string | null;
  /** Coordinator time of the grant, epoch milliseconds. */
  grantedAt: number;
}

/** Reply code of an acquire withdrawn by its client; never shown to users. */
export const CANCELLED_CODE = 'ERR_CANCELLED';

export const MAX_ID_LENGTH = 128;
export const MAX_KEY_LENGTH = 256;
export const MAX_COST = 1_000_000;

export type ParseResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; id: RequestId | undefined; error: ProtocolError };

const TYPES = new Set(['hello', 'acquire', 'cancel', 'release', 'renew', 'state', 'describe', 'metrics', 'clone']);
const KINDS = new Set(['local', 'thread', 'fork', 'bridge']);

class Invalid extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  if (typeof value === 'object') return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
  return `${String(value)} (${typeof value})`;
}

function fail(field: string, expected: string, found: unknown): never {
  throw new Invalid(`field "${field}": expected ${expected}, found ${show(found)}`);
}

function readId(m: Record<string, unknown>, field = 'id'): RequestId {
  const id = m[field];
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) return id;
  if (typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH) return id;
  return fail(field, `a non-negative integer or a string of 1..${MAX_ID_LENGTH} characters`, id);
}

function readString(m: Record<string, unknown>, field: string, max: number): string {
  const s = m[field];
  if (typeof s === 'string' && s.length > 0 && s.length <= max) return s;
  return fail(field, `a string of 1..${max} characters`, s);
}

function readOptionalKey(m: Record<string, unknown>): { key?: string } {
  return m['key'] === undefined ? {} : { key: readString(m, 'key', MAX_KEY_LENGTH) };
}

function readAcquire(m: Record<string, unknown>): AcquireMessage {
  const cost = m['cost'] ?? 1;
  if (typeof cost !== 'number' || !Number.isInteger(cost) || cost < 1 || cost > MAX_COST) {
    fail('cost', `an integer from 1 to ${MAX_COST}`, cost);
  }
  const msg: AcquireMessage = {
    v: 1,
    type: 'acquire',
    id: readId(m),
    limiter: readString(m, 'limiter', MAX_ID_LENGTH),
    ...readOptionalKey(m),
    cost,
  };
  const t = m['timeoutMs'];
  if (t === null) msg.timeoutMs = null;
  else if (t !== undefined) {
    if (typeof t !== 'number' || !(t >= 0)) fail('timeoutMs', 'a number >= 0, null (wait forever) or nothing', t);
    msg.timeoutMs = t;
  }
  return msg;
}

function read(m: Record<string, unknown>): ClientMessage {
  switch (m['type']) {
    case 'hello': {
      const c = m['client'];
      if (!isRecord(c)) return fail('client', 'an object', c);
      if (!KINDS.has(c['kind'] as string)) fail('client.kind', '"local", "thread", "fork" or "bridge"', c['kind']);
      const label = c['label'];
      return {
        v: 1,
        type: 'hello',
        client: {
          kind: c['kind'] as ClientKind,
          pid: typeof c['pid'] === 'number' ? c['pid'] : 0,
          threadId: typeof c['threadId'] === 'number' ? c['threadId'] : 0,
          ...(typeof label === 'string' ? { label: label.slice(0, MAX_KEY_LENGTH) } : {}),
          ...(c['renews'] === true ? { renews: true } : {}),
        },
      };
    }
    case 'acquire':
      return readAcquire(m);
    case 'cancel':
      return { v: 1, type: 'cancel', id: readId(m) };
    case 'release':
      return { v: 1, type: 'release', lease: readString(m, 'lease', MAX_KEY_LENGTH) };
    case 'renew': {
      const leases = m['leases'];
      if (!Array.isArray(leases) || !leases.every((l) => typeof l === 'string' && l.length <= MAX_KEY_LENGTH)) {
        fail('leases', 'an array of lease ids', leases);
      }
      return { v: 1, type: 'renew', ...(m['id'] === undefined ? {} : { id: readId(m) }), leases: leases as string[] };
    }
    case 'state':
    case 'describe':
    case 'metrics':
      return {
        v: 1,
        type: m['type'],
        id: readId(m),
        limiter: readString(m, 'limiter', MAX_ID_LENGTH),
        ...readOptionalKey(m),
      };
    case 'clone': {
      const overrides = m['overrides'] ?? {};
      if (!isRecord(overrides)) fail('overrides', 'an object', overrides);
      return {
        v: 1,
        type: 'clone',
        id: readId(m),
        source: readString(m, 'source', MAX_ID_LENGTH),
        newId: readString(m, 'newId', MAX_KEY_LENGTH),
        overrides: overrides as Record<string, unknown>,
      };
    }
    default:
      return fail('type', `one of ${[...TYPES].join(', ')}`, m['type']);
  }
}

/** Validates a message from outside the process. Never throws. */
export function parseClientMessage(raw: unknown): ParseResult {
  if (!isRecord(raw)) {
    return { ok: false, id: undefined, error: new ProtocolError(`Expected a message object, found ${show(raw)}`) };
  }
  const rawId = raw['id'];
  const id =
    (typeof rawId === 'number' && Number.isSafeInteger(rawId)) ||
    (typeof rawId === 'string' && rawId.length > 0 && rawId.length <= MAX_ID_LENGTH)
      ? rawId
      : undefined;
  if (raw['v'] !== PROTOCOL_VERSION) {
    const error = new ProtocolError(
      `Unsupported protocol version ${show(raw['v'])}: this coordinator speaks version ${PROTOCOL_VERSION}`,
      { expected: PROTOCOL_VERSION, found: raw['v'] ?? null },
    );
    return { ok: false, id, error };
  }
  try {
    return { ok: true, message: read(raw) };
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    const type = typeof raw['type'] === 'string' ? ` "${raw['type']}"` : '';
    return { ok: false, id, error: new ProtocolError(`Invalid message${type}: ${err.message}`) };
  }
}

export function okReply(id: RequestId, value: unknown): ReplyMessage {
  return { v: 1, type: 'reply', id, ok: true, value };
}

export function errorReply(id: RequestId, error: WireError): ReplyMessage {
  return { v: 1, type: 'reply', id, ok: false, error };
}
