/**
 * Every error rate-sync throws is a `RateSyncError` with a stable `code`.
 * Match on `err.code` (or `instanceof`): messages may be reworded, codes never change.
 *
 * Errors cross threads, forks and the Celery bridge as `{ code, message, details }`
 * (class identity does not survive `postMessage`) and are rebuilt here by code.
 */

const kBrand = Symbol.for('rate-sync.error');

export type ErrorCode =
  | 'ERR_RATE_SYNC'
  | 'ERR_RATE_SYNC_CONFIG'
  | 'ERR_LIMITER_NOT_FOUND'
  | 'ERR_RATE_LIMIT_TIMEOUT'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_COORDINATOR_UNAVAILABLE'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_PROTOCOL';

/** The serialisable form of an error, as carried by every transport. */
export interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export class RateSyncError extends Error {
  static readonly code: ErrorCode = 'ERR_RATE_SYNC';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = (new.target as typeof RateSyncError).code;
    this.name = new.target.name;
    this.details = details;
    Object.defineProperty(this, kBrand, { value: this.code });
  }

  /** `instanceof` also recognises errors made by another copy of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    const brand = (value as { [kBrand]?: unknown })[kBrand];
    if (typeof brand !== 'string') return false;
    return this.code === 'ERR_RATE_SYNC' || this.code === brand;
  }

  toWire(): WireError {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export interface ConfigIssue {
  /** Dotted key path, e.g. `limiters.github_api.limit`. Empty for file-level problems. */
  path: string;
  /** What was expected, e.g. `a positive integer`. */
  expected: string;
  /** What was found, e.g. `-1 (number)`. */
  found: string;
}

/** A configuration file or a `configure*()` call is invalid. Lists every problem at once. */
export class ConfigError extends RateSyncError {
  static override readonly code: ErrorCode = 'ERR_RATE_SYNC_CONFIG';
  declare readonly details: { source: string; issues: ConfigIssue[] };

  constructor(source: string, issues: ConfigIssue[], options?: { cause?: unknown }) {
    super(ConfigError.format(source, issues), { source, issues }, options);
  }

  get source(): string {
    return this.details.source;
  }

  get issues(): readonly ConfigIssue[] {
    return this.details.issues;
  }

  static format(source: string, issues: readonly ConfigIssue[]): string {
    const head = `Invalid rate-sync configuration in ${source}`;
    const lines = issues.map((i) => {
      const where = i.path === '' ? '' : `${i.path}: `;
      return `  - ${where}expected ${i.expected}, found ${i.found}`;
    });
    return issues.length === 1
      ? `${head}:\n${lines[0]}`
      : `${head} (${issues.length} problems):\n${lines.join('\n')}`;
  }
}

export class LimiterNotFoundError extends RateSyncError {
  static override readonly code: ErrorCode = 'ERR_LIMITER_NOT_FOUND';
  declare readonly details: { limiterId: string; known: string[]; hint?: string };

  constructor(limiterId: string, known: readonly string[], hint?: string) {
    const list = known.length === 0 ? 'no limiters are configured' : `configured: ${known.join(', ')}`;
    super(
      `Limiter "${limiterId}" not found (${list}).` +
        (hint === undefined ? ' Declare it in rate-sync.toml or with configureLimiter().' : ` ${hint}`),
      hint === undefined ? { limiterId, known: [...known] } : { limiterId, known: [...known], hint },
    );
  }

  get limiterId(): string {
    return this.details.limiterId;
  }
}

/**
 * No permit within the timeout. Its `name` is `'TimeoutError'`, like the DOM's and Python's,
 * so code that checks `err.name === 'TimeoutError'` works unchanged.
 */
export class RateLimitTimeoutError extends RateSyncError {
  static override readonly code: ErrorCode = 'ERR_RATE_LIMIT_TIMEOUT';
  declare readonly details: { limiterId: string; timeoutMs: number };

  constructor(limiterId: string, timeoutMs: number) {
    super(
      timeoutMs === 0
        ? `No permit available now from limiter "${limiterId}" (timeout 0: one try, no wait)`
        : `Timed out after ${timeoutMs} ms waiting for a permit from limiter "${limiterId}"`,
      { limiterId, timeoutMs },
    );
    this.name = 'TimeoutError';
  }

  get limiterId(): string {
    return this.details.limiterId;
  }

  get timeoutMs(): number {
    return this.details.timeoutMs;
  }
}

/** The limiter's store (e.g. Redis) cannot be reached and the limiter is `fail_closed`. */
export class StoreUnavailableError extends RateSyncError {
  static override readonly code: ErrorCode = 'ERR_STORE_UNAVAILABLE';
  declare readonly details: { storeId: string; limiterId?: string; reason: string };

  constructor(storeId: string, reason: string, limiterId?: string, options?: { cause?: unknown }) {
    super(
      `Store "${storeId}" is unavailable${limiterId === undefined ? '' : ` for limiter "${limiterId}"`}: ${reason}`,
      limiterId === undefined ? { storeId, reason } : { storeId, reason, limiterId },
      options,
    );
  }
}

/** A thread, fork or Celery client cannot reach the host's coordinator. */
export class CoordinatorUnavailableError extends RateSyncError {
  static override readonly code: ErrorCode = 'ERR_COORDINATOR_UNAVAILABLE';
  declare readonly details: { reason: string };

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`rate-sync coordinator unavailable: ${reason}`, { reason }, options);
  }
}

/** An API call got an argument it cannot use (a negative timeout, a cost above the burst, …). */
export class InvalidArgumentError extends RateSyncError {
  static override readonly code: ErrorCode = 'ERR_INVALID_ARGUMENT';
  declare readonly details: { argument: string; limiterId?: string };

  constructor(argument: string, message: string, limiterId?: string) {
    super(message, limiterId === undefined ? { argument } : { argument, limiterId });
  }
}

/** A message on a transport does not follow the protocol (wrong version, unknown type, bad fields). */
export class ProtocolError extends RateSyncError {
  static override readonly code: ErrorCode = 'ERR_PROTOCOL';
}

const byCode: Record<ErrorCode, (w: WireError) => RateSyncError> = {
  ERR_RATE_SYNC: (w) => new RateSyncError(w.message, w.details),
  ERR_RATE_SYNC_CONFIG: (w) =>
    new ConfigError(String(w.details?.['source'] ?? 'configuration'), (w.details?.['issues'] as ConfigIssue[]) ?? []),
  ERR_LIMITER_NOT_FOUND: (w) =>
    new LimiterNotFoundError(
      String(w.details?.['limiterId'] ?? '?'),
      (w.details?.['known'] as string[]) ?? [],
      w.details?.['hint'] as string | undefined,
    ),
  ERR_RATE_LIMIT_TIMEOUT: (w) =>
    new RateLimitTimeoutError(String(w.details?.['limiterId'] ?? '?'), Number(w.details?.['timeoutMs'] ?? 0)),
  ERR_STORE_UNAVAILABLE: (w) =>
    new StoreUnavailableError(
      String(w.details?.['storeId'] ?? '?'),
      String(w.details?.['reason'] ?? w.message),
      w.details?.['limiterId'] as string | undefined,
    ),
  ERR_COORDINATOR_UNAVAILABLE: (w) => new CoordinatorUnavailableError(String(w.details?.['reason'] ?? w.message)),
  ERR_INVALID_ARGUMENT: (w) =>
    new InvalidArgumentError(
      String(w.details?.['argument'] ?? '?'),
      w.message,
      w.details?.['limiterId'] as string | undefined,
    ),
  ERR_PROTOCOL: (w) => new ProtocolError(w.message, w.details),
};

/** Rebuilds the error class from its wire form; unknown codes become a plain `RateSyncError`. */
export function errorFromWire(wire: WireError): RateSyncError {
  const make = byCode[wire.code as ErrorCode] ?? byCode.ERR_RATE_SYNC;
  return make(wire);
}

/** The wire form of any thrown value; non-rate-sync errors become `ERR_RATE_SYNC`. */
export function errorToWire(err: unknown): WireError {
  if (err instanceof RateSyncError) return err.toWire();
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'ERR_RATE_SYNC', message };
}
