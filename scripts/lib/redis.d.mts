export interface RedisBinaries {
  server: string;
  cli: string;
}
export interface RedisInstance {
  readonly port: number;
  /** The pid of the process serving the port now (changes with restart()). */
  readonly pid: number;
  readonly dir: string;
  readonly url: string;
  /** Stops whichever process serves the port now and removes the directory (unless given). */
  stop(): Promise<void>;
  /** SIGKILL, keeping the directory for restart(). */
  kill(): Promise<void>;
  /** A new server on the same port and directory. */
  restart(): Promise<void>;
  /** Synchronous SIGKILL and directory removal, for exit handlers. */
  killNow(): void;
}
export function provisionRedis(log?: (line: string) => void): RedisBinaries | { skip: string };
export function freePort(): Promise<number>;
export function startRedis(
  server: string,
  options?: { port?: number; dir?: string; args?: string[] },
): Promise<RedisInstance>;
