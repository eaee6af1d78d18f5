import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { tsFiles } from './support/files.js';

/**
 * Dependencies point one way (../shared/STYLE.md): cli/ and bench/ → library → core/. The library
 * never imports the CLI or the benchmarks, core/ imports nothing above it, and what the browser
 * entry points reach imports no Node-only module.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');


/** Module specifiers a file imports: static imports, re-exports and import('…') with a literal. */
export function importsOf(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push(node.moduleSpecifier.text);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      out.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Repository-relative path of a relative specifier (`.js` → `.ts`), or the bare package name. */
function target(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return relative(root, resolve(dirname(from), spec.replace(/\.js$/, '.ts')));
}

const files = tsFiles(join(root, 'src'));
const edges = new Map(files.map((f) => [relative(root, f), importsOf(f, readFileSync(f, 'utf8')).map((s) => target(f, s))]));

/** Edges that break a rule, as "from → to". */
function violations(rule: (from: string, to: string) => boolean): string[] {
  return [...edges].flatMap(([from, tos]) => tos.filter((to) => rule(from, to)).map((to) => `${from} → ${to}`));
}

const nodeOnly = (to: string) => to.startsWith('node:') || to === 'onnxruntime-node';

/** Every file reachable from an entry point by static and dynamic imports. */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length) {
    const f = stack.pop() as string;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const to of edges.get(f) ?? []) if (to.startsWith('src/')) stack.push(to);
  }
  return seen;
}

describe('import direction', () => {
  it('finds the imports it checks (static, re-export, dynamic)', () => {
    expect(importsOf('x.ts', "import a from './a.js'; export * from '../b.js'; const c = await import('node:fs');")).toEqual(['./a.js', '../b.js', 'node:fs']);
    expect(edges.get('src/cli/main.ts')).toContain('src/cli/sample.ts');
  });

  it('nothing outside src/cli/ imports from src/cli/ or bench/', () => {
    expect(violations((from, to) => !from.startsWith('src/cli/') && (to.startsWith('src/cli/') || to.startsWith('bench/')))).toEqual([]);
  });

  it('the benchmarks use the library, not the CLI', () => {
    const bench = tsFiles(join(root, 'bench'));
    expect(bench.length).toBeGreaterThan(0);
    const bad = bench.flatMap((f) => importsOf(f, readFileSync(f, 'utf8')).map((s) => target(f, s)).filter((to) => to.startsWith('src/cli/')).map((to) => `${relative(root, f)} → ${to}`));
    expect(bad).toEqual([]);
  });

  it('core/ imports only core/', () => {
    expect(violations((from, to) => from.startsWith('src/core/') && !to.startsWith('src/core/'))).toEqual([]);
  });

  it('the browser entry points (every subpath but diffuse/node) reach no Node-only module', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | { default: string }> };
    const entries = Object.entries(pkg.exports).flatMap(([path, e]) => (typeof e === 'string' || path === './node' ? [] : [e.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')]));
    expect(entries).toContain('src/models/onnx/web.ts');
    const bad = entries.flatMap((e) => [...reachable(e)].flatMap((f) => (edges.get(f) ?? []).filter(nodeOnly).map((to) => `${e}: ${f} → ${to}`)));
    expect(bad).toEqual([]);
  });

  it('every subpath export of package.json names a built entry point under src/', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | { default: string }> };
    for (const [path, e] of Object.entries(pkg.exports)) {
      if (typeof e === 'string') continue;
      const src = e.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts');
      expect(edges.has(src), `${path} → ${src}`).toBe(true);
    }
  });
});

describe('one rule for namespaces', () => {
  it('every subpath but node, web and guidance is a namespace of the root with the same contents, and every root namespace is a subpath', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | { default: string }> };
    const lib = await import('../src/index.js') as Record<string, unknown>;
    const namespaces = Object.keys(lib).filter((k) => {
      const v = lib[k];
      return typeof v === 'object' && v !== null && Object.prototype.toString.call(v) === '[object Module]';
    }).sort();
    const subpaths = Object.entries(pkg.exports).filter(([path, e]) => typeof e !== 'string' && !['.', './node', './web', './guidance'].includes(path));
    expect(subpaths.map(([path]) => path.slice(2)).sort()).toEqual(namespaces);
    for (const [path, e] of subpaths) {
      const src = (e as { default: string }).default.replace(/^\.\/dist\//, '../src/').replace(/\.js$/, '.js');
      const mod = await import(src) as Record<string, unknown>;
      expect(Object.keys(lib[path.slice(2)] as object).sort(), path).toEqual(Object.keys(mod).sort());
    }
  });
  it('diffuse/guidance is the flat guidance exports of the root', async () => {
    const lib = await import('../src/index.js') as Record<string, unknown>;
    const guidance = await import('../src/guidance/index.js') as Record<string, unknown>;
    for (const k of Object.keys(guidance)) expect(lib[k], k).toBe(guidance[k]);
  });
});
