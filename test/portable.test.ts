import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { tsFiles } from './support/files.js';
import * as M from '../src/core/math.js';

/**
 * The same seed must give the same bits in every engine. ECMAScript specifies +, −, ×, ÷, sqrt and
 * the rounding functions exactly but leaves Math.exp/log/sin/pow/… "implementation-approximated",
 * and engines do differ in the last bit; so the numeric core (src/ without the Node-side cli/ and
 * io/) uses src/core/math.ts instead. The scan below keeps it that way; the accuracy tests hold
 * math.ts to a few ulp of the engine's Math.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const presentation = ['src/cli/', 'src/io/'];

/** Math members whose results ECMAScript pins to the bit (the exact functions and the constants). */
const exactMath = new Set([
  'abs', 'ceil', 'clz32', 'floor', 'fround', 'imul', 'max', 'min', 'round', 'sign', 'sqrt', 'trunc',
  'E', 'LN10', 'LN2', 'LOG10E', 'LOG2E', 'PI', 'SQRT1_2', 'SQRT2',
]);


/** Names of the global object, through which Math can also be reached. */
const globals = new Set(['globalThis', 'window', 'self', 'global']);

/** `x` in `a.x`, `{ x: … }` or `class { x }`: a name, not a reference to a variable. */
function isMemberName(node: ts.Identifier): boolean {
  const p = node.parent;
  return (ts.isPropertyAccessExpression(p) && p.name === node) || ((ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p)) && p.name === node);
}

/**
 * Every place in `source` that may compute a number differently in another engine: `**` / `**=`
 * (an engine-approximated power), and any use of `Math` other than reading one of its exact
 * members — Math.exp(…), Math['log'], `const { sin } = Math`, `const m = Math` all count.
 */
export function inexactMathUses(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const report = (node: ts.Node, what: string) => {
    const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
    found.push(`${file}:${line + 1}: ${what}`);
  };
  const visit = (node: ts.Node) => {
    if (ts.isBinaryExpression(node)) {
      const op = node.operatorToken.kind;
      if (op === ts.SyntaxKind.AsteriskAsteriskToken || op === ts.SyntaxKind.AsteriskAsteriskEqualsToken) {
        report(node, `\`${node.operatorToken.getText(sf)}\` (use pow from src/core/math.ts or multiply)`);
      }
    }
    // The Math object: the identifier `Math`, or read off the global object (globalThis.Math, self['Math'], …).
    const viaGlobal =
      (ts.isPropertyAccessExpression(node) && node.name.text === 'Math') ||
      (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression) && node.argumentExpression.text === 'Math');
    const onGlobal = viaGlobal && ts.isIdentifier(node.expression) && globals.has(node.expression.text);
    if ((ts.isIdentifier(node) && node.text === 'Math' && !isMemberName(node)) || onGlobal) {
      const parent = node.parent;
      const exact = ts.isPropertyAccessExpression(parent) && parent.expression === node && exactMath.has(parent.name.text);
      if (!exact) report(node, `\`${parent.getText(sf).slice(0, 40)}\` (use src/core/math.ts)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe('the numeric core uses no engine-approximated arithmetic', () => {
  it('finds none in src/ outside cli/ and io/', () => {
    const files = tsFiles(join(root, 'src'))
      .map((p) => relative(root, p).split('\\').join('/'))
      .filter((p) => !presentation.some((dir) => p.startsWith(dir)));
    expect(files).toContain('src/core/math.ts');
    expect(files).toContain('src/samplers/euler.ts');
    const uses = files.flatMap((f) => inexactMathUses(f, readFileSync(join(root, f), 'utf8')));
    expect(uses, `engine-approximated arithmetic in the numeric core:\n${uses.join('\n')}\n`).toEqual([]);
  });

  it('the scan catches every spelling and ignores comments and strings', () => {
    const src = [
      '/** x ** 2 and Math.exp in a comment */',
      'const s = "Math.log and 2 ** 3 in a string";',
      'const a = Math.sqrt(2) + Math.abs(-1) + Math.PI;',
      'const b = Math.exp(1);',
      'let c = 2 ** 0.5;',
      'c **= 2;',
      "const d = Math['sin'](1);",
      'const { cos } = Math;',
      'const m = Math;',
      'const e = globalThis.Math.exp(1);',
      "const f = self['Math'].log(2);",
      'const g = globalThis.Math.sqrt(2) + obj.Math + { Math: 1 }.Math;',
    ].join('\n');
    expect(inexactMathUses('x.ts', src).map((u) => u.split(':').slice(0, 2).join(':'))).toEqual([
      'x.ts:4', 'x.ts:5', 'x.ts:6', 'x.ts:7', 'x.ts:8', 'x.ts:9', 'x.ts:10', 'x.ts:11',
    ]);
  });
});

const bits = new DataView(new ArrayBuffer(8));
/** Doubles in order as integers, so a − b counts the doubles between them. */
function ordinal(x: number): bigint {
  bits.setFloat64(0, x);
  const b = bits.getBigInt64(0);
  return b < 0n ? -(b & 0x7fffffffffffffffn) : b;
}

/** Distance in ulp, 0 for the same special value (NaN, ±0 with its sign, ±∞), Infinity for a sign or kind mismatch. */
function ulpDistance(a: number, b: number): number {
  if (Object.is(a, b)) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b) || a === 0 || b === 0) return Infinity;
  return Math.abs(Number(ordinal(a) - ordinal(b)));
}

/** Deterministic points in [lo, hi], uniform or (logScale) log-uniform in |x| with lo's sign. */
function points(lo: number, hi: number, count: number, logScale = false): number[] {
  let state = 12345;
  return Array.from({ length: count }, () => {
    state = (state * 16807) % 2147483647;
    const u = state / 2147483647;
    if (!logScale) return lo + u * (hi - lo);
    return Math.sign(lo) * Math.exp(Math.log(Math.abs(lo)) + u * (Math.log(Math.abs(hi)) - Math.log(Math.abs(lo))));
  });
}

/** The worst ulp distance of f from the engine's g over xs, with where it happens. */
function worstUlp(f: (x: number) => number, g: (x: number) => number, xs: number[]): { ulp: number; at: number } {
  let worst = { ulp: 0, at: NaN };
  for (const x of xs) {
    const ulp = ulpDistance(f(x), g(x));
    if (ulp > worst.ulp) worst = { ulp, at: x };
  }
  return worst;
}

type Unary = (x: number) => number;
const unary: [string, Unary, Unary][] = [
  ['exp', M.exp, Math.exp], ['log', M.log, Math.log], ['expm1', M.expm1, Math.expm1], ['log1p', M.log1p, Math.log1p],
  ['sin', M.sin, Math.sin], ['cos', M.cos, Math.cos], ['tan', M.tan, Math.tan], ['atan', M.atan, Math.atan],
  ['acos', M.acos, Math.acos],
];
const fn = (name: string) => unary.find(([n]) => n === name) as [string, Unary, Unary];

/** [function, lo, hi, log-uniform] — wide ranges, each with its own hard part. */
const ranges: [string, number, number, boolean][] = [
  ['exp', -745, 709.78, false], ['exp', -1, 1, false], ['exp', 1e-300, 1e-3, true],
  ['log', 1e-320, 1e308, true], ['log', 0.5, 2, false], ['log', 5e-324, 2e-308, true],
  ['expm1', -40, 709, false], ['expm1', -1, 1, false], ['expm1', 1e-300, 0.5, true], ['expm1', -1e-300, -0.5, true],
  ['log1p', -0.999999, 10, false], ['log1p', 1e-300, 1e300, true], ['log1p', -1e-300, -0.5, true],
  ['sin', -10, 10, false], ['cos', -10, 10, false], ['tan', -10, 10, false],
  ['sin', 1e-300, 1e6, true], ['cos', 1, 1e6, true],
  ['sin', 1e6, 1e308, true], ['cos', -1e6, -1e308, true], ['tan', 1e6, 1e308, true],
  ['atan', -10, 10, false], ['atan', 1e-300, 1e300, true], ['acos', -1, 1, false],
];

describe('src/core/math.ts agrees with the engine\'s Math to a few ulp', () => {
  it.each(ranges)('%s on [%d, %d]', (name, lo, hi, logScale) => {
    const [, f, g] = fn(name);
    const worst = worstUlp(f, g, points(lo, hi, 4000, logScale));
    expect(worst.ulp, `${name}(${worst.at})`).toBeLessThanOrEqual(4);
  });

  it('pow on wide ranges of base and exponent, integer exponents included', () => {
    const bases = points(1e-300, 1e300, 300, true);
    const exponents = [...points(-3, 3, 20), 0.5, 1 / 7, 7, 2, 3, -2, 65, 308, -308, 1000.5];
    let worst = { ulp: 0, at: '' };
    for (const x of bases) {
      for (const y of exponents) {
        const ulp = ulpDistance(M.pow(x, y), Math.pow(x, y));
        if (ulp > worst.ulp) worst = { ulp, at: `${x} ** ${y}` };
      }
    }
    expect(worst.ulp, worst.at).toBeLessThanOrEqual(4);
    expect(M.pow(10, 308)).toBe(1e308);
    expect(M.pow(2, -1074)).toBe(5e-324);
    expect(M.pow(-2, 2000)).toBe(Infinity);
    expect(M.pow(-0.5, 3)).toBe(-0.125);
  });

  it('gives the special values exactly as Math does: ±0, ±∞, NaN, subnormals', () => {
    const specials = [0, -0, Infinity, -Infinity, NaN, 5e-324, -5e-324, 2.2e-308, -2.2e-308];
    for (const [name, f, g] of unary) {
      for (const x of specials) {
        if (name === 'acos' && Math.abs(x) < 1e-300) continue; // π/2 within an ulp, checked below
        expect(ulpDistance(f(x), g(x)), `${name}(${x})`).toBe(0);
      }
    }
    expect(ulpDistance(M.acos(0), Math.PI / 2)).toBeLessThanOrEqual(1);
    expect(ulpDistance(M.exp(-740), Math.exp(-740))).toBeLessThanOrEqual(1); // subnormal result
    expect(M.exp(-746)).toBe(0);
    expect(M.exp(709.8)).toBe(Infinity);
    // special values must match exactly (ulpDistance is ∞ for any other ±0/±∞/NaN), the rest to an ulp
    const powArgs = [0, -0, Infinity, -Infinity, NaN, 1, -1, 2, -2, 0.5, -0.5, 3, -3, 2.5, -2.5];
    for (const x of powArgs) {
      for (const y of powArgs) expect(ulpDistance(M.pow(x, y), Math.pow(x, y)), `pow(${x}, ${y})`).toBeLessThanOrEqual(1);
    }
  });

  it('reduces huge sin/cos arguments exactly: the worst case for double precision (Kahan–McDonald)', () => {
    const x = 6381956970095103 * 2 ** 797; // within 2^−61 of a multiple of π/2
    expect(ulpDistance(M.cos(x), -4.687165924254628e-19)).toBeLessThanOrEqual(1);
    expect(ulpDistance(M.sin(Number.MAX_VALUE), 0.004961954789184062)).toBeLessThanOrEqual(1);
    expect(ulpDistance(M.sin(1e22), -0.8522008497671888)).toBeLessThanOrEqual(1);
  });
});
