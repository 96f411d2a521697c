/**
 * Which side of the coordinator this code runs on, decided once when rate-sync is loaded:
 *
 * - `primary`: the main thread of a process that was not forked by a rate-sync process. It runs
 *   the coordinator, serves its worker threads and forks, and marks its environment so that the
 *   processes it forks know they are clients.
 * - `fork`: the main thread of a process forked (with an IPC channel) by a process that loaded
 *   rate-sync. A client over IPC; it relays for its own worker threads and forks.
 * - `thread`: any worker thread. A client of its process's main thread.
 *
 * The environment marker is what tells a fork from a process that merely has an IPC channel
 * (a test runner's child, a job runner's worker): without it, a process is a primary of its own.
 */
import { isMainThread } from 'node:worker_threads';
import type { Connection } from './connection.js';
import { ThreadClientConnection } from './channel-transport.js';
import { IpcUpstream } from './ipc-transport.js';

/** Set by a rate-sync process for the processes it forks: its pid. */
export const PARENT_ENV = 'RATE_SYNC_PARENT_PID';
/** Overrides how long a thread or fork waits for the coordinator's answer to its hello. */
export const CONNECT_TIMEOUT_ENV = 'RATE_SYNC_CONNECT_TIMEOUT_MS';
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export type Role = 'primary' | 'fork' | 'thread';

export const role: Role = !isMainThread
  ? 'thread'
  : typeof process.send === 'function' && process.env[PARENT_ENV] !== undefined
    ? 'fork'
    : 'primary';

/** Lets the processes this one forks know that it serves them. */
export function markParent(): void {
  process.env[PARENT_ENV] = String(process.pid);
}

/** How a client of this context reaches the coordinator; undefined in the primary's main thread. */
export function clientConnector(): (() => Connection) | undefined {
  if (role === 'thread') return () => new ThreadClientConnection();
  if (role === 'fork') return () => IpcUpstream.get().open();
  return undefined;
}

export function connectTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[CONNECT_TIMEOUT_ENV];
  const value = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : DEFAULT_CONNECT_TIMEOUT_MS;
}
