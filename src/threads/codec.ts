/**
 * Compact forms of the four messages that make up nearly all traffic between threads and
 * processes: acquire, release, cancel, and the grant that answers an acquire. Copying a message
 * object between threads (structured clone) or processes (JSON) costs per property; the same
 * message as an array of a few numbers and strings costs a fifth of it, which is what lets one
 * coordinator serve several busy threads and forks (docs/protocol.md, "Batches").
 *
 *   [1, id, limiter, cost, timeoutMs, key?]   acquire   (timeoutMs: number, null = forever, -1 = default)
 *   [2, lease]                                release
 *   [3, id]                                   cancel
 *   [4, id, lease, grantedAt]                 reply { ok: true, value: { lease, grantedAt } }
 *
 * Anything else travels as the message object itself; a decoder passes through what it does not
 * recognise, so a bad element reaches the coordinator's checks and gets an error reply.
 *
 * The client stub writes and reads these forms itself (no object in between); the host decodes
 * them for the coordinator's Session and encodes its grants; a relay passes them on untouched.
 */
import { PROTOCOL_VERSION } from '../coordinator/protocol.js';

export const ACQUIRE = 1;
export const RELEASE = 2;
export const CANCEL = 3;
export const GRANT = 4;
/** `timeoutMs` of an acquire that takes the limiter's default. */
export const DEFAULT_TIMEOUT = -1;

type Fields = Record<string, unknown>;

function isGrant(value: unknown): value is { lease: string | null; grantedAt: number } {
  if (typeof value !== 'object' || value === null) return false;
  const { lease, grantedAt } = value as Fields;
  return (lease === null || typeof lease === 'string') && typeof grantedAt === 'number' && Object.keys(value).length === 2;
}

/** The compact form of a protocol message when it has one, else the message. */
export function encode(message: unknown): unknown {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return message;
  const m = message as Fields;
  if (m['v'] !== PROTOCOL_VERSION || typeof m['id'] === 'string') return message;
  switch (m['type']) {
    case 'acquire': {
      const timeout = m['timeoutMs'] === undefined ? DEFAULT_TIMEOUT : m['timeoutMs'];
      const tuple = [ACQUIRE, m['id'], m['limiter'], m['cost'], timeout];
      if (m['key'] !== undefined) tuple.push(m['key']);
      return tuple;
    }
    case 'release':
      return [RELEASE, m['lease']];
    case 'cancel':
      return [CANCEL, m['id']];
    case 'reply':
      return m['ok'] === true && isGrant(m['value']) ? [GRANT, m['id'], m['value'].lease, m['value'].grantedAt] : message;
    default:
      return message;
  }
}

/** The message a compact form stands for; anything else unchanged. */
export function decode(item: unknown): unknown {
  if (!Array.isArray(item)) return item;
  switch (item[0]) {
    case ACQUIRE: {
      const message: Fields = { v: PROTOCOL_VERSION, type: 'acquire', id: item[1], limiter: item[2], cost: item[3] };
      if (item[4] !== DEFAULT_TIMEOUT) message['timeoutMs'] = item[4];
      if (item.length > 5) message['key'] = item[5];
      return message;
    }
    case RELEASE:
      return { v: PROTOCOL_VERSION, type: 'release', lease: item[1] };
    case CANCEL:
      return { v: PROTOCOL_VERSION, type: 'cancel', id: item[1] };
    case GRANT:
      return { v: PROTOCOL_VERSION, type: 'reply', id: item[1], ok: true, value: { lease: item[2], grantedAt: item[3] } };
    default:
      return item;
  }
}
