/**
 * The HTTP side of `ratesync serve` (the "metrics port"): the status page at `/`, its data at
 * `/status.json` (also what `ratesync status` reads), Prometheus at `/metrics`, `/healthz`.
 * Read only, no authentication: it listens on 127.0.0.1 unless told otherwise.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { RateSyncError } from '../errors.js';
import { buildReport, type ReportSource } from './report.js';

export interface StatusServerOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0: any free port. */
  readonly port: number;
  readonly registry: Registry;
  /** The report's sources, read at each request (the bridge may come later). */
  readonly source: () => ReportSource;
  readonly log: (event: string, fields?: Record<string, unknown>) => void;
}

export interface StatusServer {
  /** `http://host:port`. */
  readonly url: string;
  close(): Promise<void>;
}

const PAGE = new URL('./page.html', import.meta.url);
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const host = options.host ?? '127.0.0.1';
  const page = readFileSync(PAGE, 'utf8');
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.log('http_error', { path: req.url, error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'read only: GET\n', { allow: 'GET, HEAD' });
      return;
    }
    switch (url.pathname) {
      case '/':
        send(res, 200, 'text/html; charset=utf-8', page, {
          'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        });
        return;
      case '/status.json': {
        const keys = Number(url.searchParams.get('keys') ?? 5);
        const report = await buildReport(options.source(), { keys: Number.isInteger(keys) && keys >= 0 && keys <= 100 ? keys : 5 });
        send(res, 200, 'application/json; charset=utf-8', JSON.stringify(report));
        return;
      }
      case '/metrics':
        send(res, 200, options.registry.contentType, await options.registry.metrics());
        return;
      case '/healthz':
        send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
        return;
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found: try /, /status.json, /metrics or /healthz\n');
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${host}:${options.port}`;
      reject(
        new RateSyncError(
          err.code === 'EADDRINUSE'
            ? `The metrics port ${where} is in use (another ratesync serve?): pass --metrics-port N (0: any free port) or --no-metrics`
            : `Cannot listen on ${where} for metrics and status: ${err.message}`,
          { host, port: options.port },
          { cause: err },
        ),
      );
    });
    server.listen(options.port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
