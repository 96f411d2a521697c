/**
 * The bridge's messages: what a Python client pushes, checked field by field, and what the
 * coordinator pushes back. A bridge message is a coordinator protocol message (docs/protocol.md)
 * plus the fields the Redis lists need: who sent it, where to reply, and when it was pushed in
 * Redis time. `parseEntry` never throws: garbage becomes an error to send back when a reply
 * address can be read, else one to count.
 */
import { ProtocolError } from '../errors.js';
import {
  MAX_ID_LENGTH,
  parseClientMessage,
  PROTOCOL_VERSION,
  type ClientMessage,
  type CoordinatorMessage,
  type RequestId,
} from '../coordinator/protocol.js';

/** Longest list entry read in full; a longer one is refused after reading its first bytes. */
export const MAX_ENTRY_BYTES = 64 * 1024;
/** Client ids and reply channels: short names that are safe inside a Redis key. */
export const NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,100}$/;

/** The message types a bridge client may send. `clone` is not one: the bridge serves only configured limiters. */
export const BRIDGE_TYPES = new Set(['acquire', 'cancel', 'release', 'renew', 'state', 'describe']);

export interface BridgeEntry {
  /** When the client pushed it: Redis `TIME`, epoch microseconds, stamped by the push script. */
  readonly atUs: number;
  /** The client (one Python process): its leases and waiters belong to it. */
  readonly client: string;
  /** The channel replies go to (`<prefix>reply:<channel>`); absent for messages without a reply. */
  readonly reply: string | undefined;
  /** The client stops listening this long after `at`: a request read later is void. */
  readonly ttlMs: number | undefined;
  readonly message: ClientMessage;
}

export type EntryResult =
  | { ok: true; entry: BridgeEntry }
  | { ok: false; reply: string | undefined; id: RequestId | undefined; error: ProtocolError };

type Fields = Record<string, unknown>;

function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readName(value: unknown): string | undefined {
  return typeof value === 'string' && NAME_PATTERN.test(value) ? value : undefined;
}

function readId(value: unknown): RequestId | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH) return value;
  return undefined;
}

/** Reply address and id from the first bytes of an entry too big or too broken to parse. */
function readHeader(raw: string): { reply: string | undefined; id: RequestId | undefined } {
  const head = raw.slice(0, 1024);
  const reply = /"reply"\s*:\s*"([A-Za-z0-9_.:-]{1,100})"/.exec(head)?.[1];
  const id = /"id"\s*:\s*(?:"([^"\\]{1,128})"|(\d{1,15})[,}\s])/.exec(head);
  return { reply, id: id === null ? undefined : (id[1] ?? Number(id[2])) };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  if (typeof value === 'object') return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
  return `${String(value)} (${typeof value})`;
}

function invalid(reply: string | undefined, id: RequestId | undefined, message: string, details?: Fields): EntryResult {
  return { ok: false, reply, id, error: new ProtocolError(message, details) };
}

/** Checks one entry popped from a bridge list. */
export function parseEntry(raw: string): EntryResult {
  if (raw.length > MAX_ENTRY_BYTES || Buffer.byteLength(raw) > MAX_ENTRY_BYTES) {
    const { reply, id } = readHeader(raw);
    return invalid(reply, id, `Bridge message of ${Buffer.byteLength(raw)} bytes refused: the limit is ${MAX_ENTRY_BYTES}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (err) {
    const { reply, id } = readHeader(raw);
    return invalid(reply, id, `Bridge message is not valid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(data)) return invalid(undefined, undefined, `Bridge message must be a JSON object, found ${describe(data)}`);
  const reply = readName(data['reply']);
  const id = readId(data['id']);
  if (data['reply'] !== undefined && reply === undefined) {
    return invalid(undefined, id, `Invalid bridge message: field "reply": expected 1..100 letters, digits, "_", ".", ":" or "-", found ${describe(data['reply'])}`);
  }
  if (data['v'] !== PROTOCOL_VERSION) {
    return invalid(reply, id, `Unsupported bridge protocol version ${describe(data['v'])}: this coordinator speaks version ${PROTOCOL_VERSION}`, {
      expected: PROTOCOL_VERSION,
      found: data['v'] ?? null,
    });
  }
  const problem = checkEnvelope(data, reply);
  if (problem !== undefined) return invalid(reply, id, `Invalid bridge message${typeName(data)}: ${problem}`);
  const { at, client, reply: _reply, ttlMs, ...rest } = data;
  const parsed = parseClientMessage(rest);
  if (!parsed.ok) return { ok: false, reply, id: parsed.id, error: parsed.error };
  return {
    ok: true,
    entry: { atUs: at as number, client: client as string, reply, ttlMs: ttlMs as number | undefined, message: parsed.message },
  };
}

function typeName(data: Fields): string {
  return typeof data['type'] === 'string' ? ` "${data['type'].slice(0, 40)}"` : '';
}

/** The bridge's own fields; undefined when they are all right. */
function checkEnvelope(data: Fields, reply: string | undefined): string | undefined {
  const at = data['at'];
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at <= 0) {
    return `field "at": expected the Redis time of the push in epoch microseconds (push with the bridge's push script), found ${describe(at)}`;
  }
  if (readName(data['client']) === undefined) {
    return `field "client": expected 1..100 letters, digits, "_", ".", ":" or "-", found ${describe(data['client'])}`;
  }
  const ttl = data['ttlMs'];
  if (ttl !== undefined && (typeof ttl !== 'number' || !(ttl >= 0))) return `field "ttlMs": expected a number >= 0 or nothing, found ${describe(ttl)}`;
  const type = data['type'];
  if (typeof type !== 'string' || !BRIDGE_TYPES.has(type)) {
    return `field "type": expected one of ${[...BRIDGE_TYPES].join(', ')}, found ${describe(type)}`;
  }
  const answered = type === 'acquire' || type === 'state' || type === 'describe' || (type === 'renew' && data['id'] !== undefined);
  if (answered && reply === undefined) return 'field "reply": expected the channel to answer on, found nothing';
  return undefined;
}

/** A reply as it travels back: the coordinator message, signed by the coordinator that sent it. */
export function encodeReply(message: CoordinatorMessage, coordinator: string): string {
  return JSON.stringify({ ...message, coordinator });
}
