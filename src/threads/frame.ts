/**
 * How protocol messages travel between threads and processes. A transport does not check the
 * messages it carries (the coordinator's `Session` does): it moves batches of them, opens and
 * closes connections, and counts the answers a client still waits for (to keep it alive).
 *
 * Frames on an IPC channel share it with the application's own `process.send` messages, so they
 * carry a distinctive `rateSync` field: `isRateSyncMessage()` tells an application's `message`
 * handler which messages to ignore.
 *
 *   { rateSync: 1, c: 3, m: [msg, msg, …] }   messages of connection 3, in order
 *   { rateSync: 1, c: 3, close: "reason" }    connection 3 is closed
 */
import { ACQUIRE, GRANT } from './codec.js';

/** Version of the transport envelope (the messages inside carry the protocol's own `v`). */
export const FRAME_VERSION = 1;

export interface BatchFrame {
  rateSync: typeof FRAME_VERSION;
  c: number;
  m: unknown[];
}

export interface CloseFrame {
  rateSync: typeof FRAME_VERSION;
  c: number;
  close: string;
}

export type IpcFrame = BatchFrame | CloseFrame;

/**
 * True for the messages rate-sync exchanges over a fork's IPC channel (`process.send`): an
 * application that listens to `process.on('message')` or `cluster.on('message')` skips them.
 */
export function isRateSyncMessage(message: unknown): boolean {
  return typeof message === 'object' && message !== null && 'rateSync' in message;
}

/** Requests that get exactly one answer (`ready`, `reply` or `error`). */
const ASKS = new Set(['hello', 'acquire', 'state', 'describe', 'metrics', 'clone']);
const ANSWERS = new Set(['ready', 'reply', 'error']);

function typeOf(message: unknown): unknown {
  return typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
}

/** Whether the peer will answer this message, in either form (a client stays alive until it does). */
export function expectsAnswer(message: unknown): boolean {
  if (Array.isArray(message)) return message[0] === ACQUIRE;
  const type = typeOf(message);
  return ASKS.has(type as string) || (type === 'renew' && (message as { id?: unknown }).id !== undefined);
}

export function isAnswer(message: unknown): boolean {
  if (Array.isArray(message)) return message[0] === GRANT;
  return ANSWERS.has(typeOf(message) as string);
}
