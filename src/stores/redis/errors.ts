/**
 * Every way a Redis call can fail, in one place: the status codes our scripts return, and the
 * errors of Redis and of the connection. Matching is by code (the first word of a Redis error
 * reply, an integer from our scripts), never by message text, which Redis versions reword.
 */
import { ReplyError } from 'ioredis';
import { StoreUnavailableError } from '../../errors.js';

/** First element of every script reply (the `OK`, `WRONG_TYPE`, … locals of lua/policy.lua). */
export const STATUS = { OK: 0, WRONG_TYPE: 1, BAD_ARGUMENT: 2, CORRUPT: 3 } as const;

/**
 * - `unavailable`: Redis cannot answer now (connection lost or refused, timeout, loading,
 *   failover): the failure policy applies (fail closed, or the local fallback share).
 * - `auth`: the credentials are wrong or lack a permission: a configuration error, reported
 *   to every caller whatever the policy (falling back would hide it).
 * - `other`: Redis answered with an error that retrying elsewhere will not fix.
 */
export type FailureKind = 'unavailable' | 'auth' | 'other';

const UNAVAILABLE = new Set(['LOADING', 'BUSY', 'CLUSTERDOWN', 'TRYAGAIN', 'MASTERDOWN', 'READONLY', 'NOREPLICAS', 'MISCONF']);
const AUTH = new Set(['NOAUTH', 'WRONGPASS', 'NOPERM']);

/** The code of a Redis error reply: its first word, e.g. `WRONGPASS`. */
export function replyCode(err: unknown): string | undefined {
  if (!(err instanceof ReplyError)) return undefined;
  return /^[A-Z_-]+/.exec(String((err as Error).message))?.[0];
}

export function classify(err: unknown): FailureKind {
  const code = replyCode(err);
  if (code === undefined) return 'unavailable';
  if (AUTH.has(code)) return 'auth';
  return UNAVAILABLE.has(code) ? 'unavailable' : 'other';
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message === '' ? err.name : err.message;
  return String(err);
}

/** The error for a script reply whose status is not OK. */
export function scriptFailure(reply: readonly unknown[], storeId: string, limiterId: string): StoreUnavailableError {
  const [status, a, b, c] = reply;
  switch (status) {
    case STATUS.WRONG_TYPE:
      return new StoreUnavailableError(
        storeId,
        `key "${String(a)}" holds a ${String(b)} where rate-sync keeps a ${String(c)}: another program writes under this ` +
          'key prefix. Delete the key, or give the store its own key_prefix',
        limiterId,
      );
    case STATUS.CORRUPT:
      return new StoreUnavailableError(
        storeId,
        `key "${String(a)}" holds a value rate-sync cannot read (expected ${String(b)}): delete the key, or give the store its own key_prefix`,
        limiterId,
      );
    case STATUS.BAD_ARGUMENT:
      return new StoreUnavailableError(storeId, `a rate-sync script refused its arguments: ${String(a)}`, limiterId);
    default:
      return new StoreUnavailableError(storeId, `unexpected script reply ${JSON.stringify(reply)}`, limiterId);
  }
}
