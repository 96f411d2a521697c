#!/usr/bin/env node
// Part of `npm run build`: copies the files tsc does not emit (the Redis Lua scripts, the status
// page) from src/ to dist/, at the same relative paths, so the compiled code finds them next to itself.
import { cpSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

for (const file of walk(src).filter((f) => f.endsWith('.lua') || f.endsWith('.html'))) {
  const target = join(dist, relative(src, file));
  mkdirSync(dirname(target), { recursive: true });
  cpSync(file, target);
}
