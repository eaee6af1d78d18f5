import { describe, expect, it } from 'vitest';
import { builtinNames, builtinProblem, loadGmmJson, builtinDescription } from '../src/models/oracle/builtin.js';
import { GaussianMixture } from '../src/models/oracle/gmm.js';
import { UsageError } from '../src/core/errors.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { refsDir, ring8Problem } from './support/refs.js';

describe('built-in problems', () => {
  it('lists the shapes, the smooth high-dimensional mixture and the point mass', () => {
    expect(builtinNames).toEqual(expect.arrayContaining(['ring8', 'moons', 'spiral', 'checkerboard', 'gmm16', 'point']));
  });
  it.each(builtinNames)('%s is a valid mixture with a description', (name) => {
    const spec = builtinProblem(name);
    const gmm = new GaussianMixture(spec);
    expect(gmm.means.length).toBe(spec.K * spec.d);
    expect(builtinDescription(name).length).toBeGreaterThan(10);
  });
  it('ring8 is exactly the shared refs problem', () => {
    expect(builtinProblem('ring8')).toEqual(ring8Problem().gmm);
  });
  it('gmm16 is smooth: d = 16, K = 8, variances in [0.3, 1]', () => {
    const g = builtinProblem('gmm16');
    expect([g.d, g.K]).toEqual([16, 8]);
    const v = g.variances.flat();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0.3);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
  });
  it('2-D shapes stay in a unit-scale box', () => {
    for (const name of ['moons', 'spiral', 'checkerboard']) {
      const m = builtinProblem(name).means.flat();
      expect(Math.max(...m.map(Math.abs))).toBeLessThanOrEqual(1);
    }
  });
  it('point is a single point mass', () => {
    expect(builtinProblem('point')).toMatchObject({ d: 2, K: 1, weights: [1], variances: [[0, 0]] });
  });
  it('returns fresh copies', () => {
    builtinProblem('ring8').means[0][0] = 99;
    expect(builtinProblem('ring8').means[0][0]).toBe(1);
  });
  it('unknown names list the accepted ones', () => {
    expect(() => builtinProblem('ring9')).toThrow(UsageError);
    expect(() => builtinProblem('ring9')).toThrow(/accepted: ring8, moons, spiral, checkerboard, gmm16, point/);
    expect(() => builtinProblem('toString')).toThrow(UsageError);
  });
});

describe('loadGmmJson', () => {
  const ring8 = builtinProblem('ring8');
  it('reads a shared/refs problem file', () => {
    expect(loadGmmJson(readFileSync(resolve(refsDir, 'problem_ring8.json'), 'utf8'))).toEqual(ring8);
  });
  it('reads {"gmm": ...} and a bare spec', () => {
    // JSON.stringify writes −0 as 0, so compare the texts
    const same = (spec: unknown) => expect(JSON.stringify(spec)).toBe(JSON.stringify(ring8));
    same(loadGmmJson(JSON.stringify({ gmm: ring8 })));
    same(loadGmmJson(JSON.stringify(ring8)));
    const { covariance_type: _ct, ...noType } = ring8;
    same(loadGmmJson(JSON.stringify({ gmm: noType })));
  });
  it('picks a named problem when a file holds several', () => {
    const text = JSON.stringify({ problems: { a: { gmm: ring8 }, b: { gmm: builtinProblem('point') } } });
    expect(loadGmmJson(text, 'b').K).toBe(1);
    expect(() => loadGmmJson(text)).toThrow(/problems a, b; name one/);
    expect(() => loadGmmJson(text, 'c')).toThrow(/got "c"/);
  });
  it('says what is wrong with malformed input', () => {
    const bad = (v: unknown) => () => loadGmmJson(typeof v === 'string' ? v : JSON.stringify(v));
    expect(bad('{"gmm": ')).toThrow(/not valid JSON/);
    expect(bad([1, 2])).toThrow(/JSON object/);
    expect(bad({ foo: 1 })).toThrow(/neither "gmm" nor "problems"/);
    expect(bad({ gmm: { d: 2, K: 1, weights: [1] } })).toThrow(/"means" is missing; required with d, K, weights, means, variances/);
    expect(bad({ gmm: { ...ring8, covariance_type: 'full' } })).toThrow(/must be "diag"/);
    expect(bad({ gmm: { ...ring8, K: 7 } })).toThrow(/K=7/);
    expect(bad({ gmm: { ...ring8, means: [[1, 'x'], ...ring8.means.slice(1)] } })).toThrow(/means\[0\]\[1\]/);
    expect(bad({ problems: { r: { z: [] } } })).toThrow(/problems.r has no "gmm"/);
    for (const f of [bad('{'), bad({ gmm: { ...ring8, d: 3 } })]) expect(f).toThrow(UsageError);
  });
});
