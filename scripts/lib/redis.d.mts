export interface RedisBinaries {
  server: string;
  cli: string;
}
export interface RedisInstance {
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  readonly url: string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}
export function provisionRedis(log?: (line: string) => void): RedisBinaries | { skip: string };
export function freePort(): Promise<number>;
export function startRedis(
  server: string,
  options?: { port?: number; dir?: string; args?: string[] },
): Promise<RedisInstance>;
