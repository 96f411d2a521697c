/**
 * docs/api.md is kept in step with the types: every export of `rate-sync` (src/index.ts) and of
 * `rate-sync/testing` (src/testing.ts) has a section headed with its name in backticks, and every
 * public member of an exported class or interface (its own, not inherited; `@internal` ones left
 * out) is named in backticks in that section. Read from the sources with the TypeScript compiler.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import ts from 'typescript';

const root = new URL('../../', import.meta.url);
const entryPoints = { 'rate-sync': 'src/index.ts', 'rate-sync/testing': 'src/testing.ts' };
const doc = readFileSync(new URL('docs/api.md', root), 'utf8');

/** The doc's sections, by the backticked names in their `##`/`###` heading. */
function sections(): Map<string, string> {
  const found = new Map<string, string>();
  const parts = doc.split(/^(?=#{2,3} )/m);
  for (const part of parts) {
    const heading = part.split('\n', 1)[0] ?? '';
    for (const [, name] of heading.matchAll(/`([A-Za-z_$][\w$]*)/g)) found.set(name as string, part);
  }
  return found;
}

function isInternal(symbol: ts.Symbol): boolean {
  return (symbol.declarations ?? []).some((d) => ts.getJSDocTags(d).some((t) => t.tagName.text === 'internal'));
}

/** Public members declared by the class or interface itself. */
function ownMembers(checker: ts.TypeChecker, symbol: ts.Symbol): string[] {
  const own = new Set(symbol.declarations ?? []);
  return checker
    .getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))
    .filter((p) => (p.declarations ?? []).some((d) => own.has(d.parent as ts.Declaration)))
    .filter((p) => !p.name.startsWith('#') && !p.name.startsWith('__@') && !isInternal(p))
    .filter((p) => !(p.declarations ?? []).some((d) => ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)))
    .map((p) => p.name);
}

const program = ts.createProgram(Object.values(entryPoints), {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  strict: true,
  skipLibCheck: true,
  noEmit: true,
});
const checker = program.getTypeChecker();
const documented = sections();

for (const [entry, file] of Object.entries(entryPoints)) {
  test(`docs/api.md documents every export of ${entry} and their public members`, () => {
    const source = program.getSourceFile(file);
    assert.ok(source, file);
    const module = checker.getSymbolAtLocation(source);
    assert.ok(module, file);
    const exports = checker.getExportsOfModule(module);
    assert.ok(exports.length > 0);
    const missing: string[] = [];
    for (const exported of exports) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const section = documented.get(exported.name);
      if (section === undefined) {
        missing.push(`${exported.name} (no section headed \`${exported.name}\`)`);
        continue;
      }
      if (!(symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface))) continue;
      for (const member of ownMembers(checker, symbol)) {
        if (!section.includes(`\`${member}`) && !section.includes(`.${member}`)) missing.push(`${exported.name}.${member}`);
      }
    }
    assert.deepEqual(missing, [], `docs/api.md is missing: ${missing.join(', ')}`);
  });
}
