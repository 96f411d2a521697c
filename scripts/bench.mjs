#!/usr/bin/env node
// `npm run bench`: every benchmark in bench/, one after the other, with the peers in the same run.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const only = process.argv[2];
const files = readdirSync(new URL('../bench', import.meta.url))
  .filter((f) => f.endsWith('.ts') && f !== 'report.ts')
  .filter((f) => only === undefined || f.includes(only))
  .sort();
for (const file of files) {
  console.log(`\n=== bench/${file} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${file}`], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
