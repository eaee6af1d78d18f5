import { describe, expect, it } from 'vitest';
import { RunQueue, runChunked, runOnce, runShared } from '../../src/models/onnx/runner.js';
import type { OrtSession, OrtTensor } from '../../src/models/onnx/runtime.js';
import { RunError } from '../../src/core/errors.js';

const disposed: string[] = [];
const tensor = (name: string, data: number[] = []): OrtTensor => ({ type: 'float32', dims: [data.length], data: Float32Array.from(data), dispose: () => disposed.push(name) });
const session = (fail = false): OrtSession => ({
  inputNames: ['x'], outputNames: ['y'], inputMetadata: [], outputMetadata: [],
  run: async (feeds) => {
    if (fail) throw new Error('bad graph');
    const x = feeds.x.data as Float32Array;
    return { y: tensor('y', Array.from(x, (v) => 2 * v)) };
  },
});

describe('the ONNX session runner', () => {
  it('disposes feeds and results, also when the run or the read fails', async () => {
    disposed.length = 0;
    expect(await runOnce(session(), { x: tensor('x', [1, 2]) }, (r) => Array.from(r.y.data as Float32Array), 'here')).toEqual([2, 4]);
    expect(disposed).toEqual(['x', 'y']);
    disposed.length = 0;
    await expect(runOnce(session(true), { x: tensor('x', [1]) }, () => 0, 'at t=3')).rejects.toThrow(RunError);
    await expect(runOnce(session(true), { x: tensor('x', [1]) }, () => 0, 'at t=3')).rejects.toThrow(/ONNX Runtime failed at t=3: bad graph/);
    expect(disposed).toEqual(['x', 'x']);
    disposed.length = 0;
    await expect(runOnce(session(), { x: tensor('x', [1]) }, () => { throw new Error('read'); }, '')).rejects.toThrow('read');
    expect(disposed).toEqual(['x', 'y']);
  });

  it('runShared leaves the feeds to the caller (calibration reuses them) and disposes the results', async () => {
    disposed.length = 0;
    const feeds = { x: tensor('x', [3]) };
    expect(await runShared(session(), feeds, (r) => (r.y.data as Float32Array)[0], 'a')).toBe(6);
    expect(await runShared(session(), feeds, (r) => (r.y.data as Float32Array)[0], 'b')).toBe(6);
    expect(disposed).toEqual(['y', 'y']);
    await expect(runShared(session(true), feeds, () => 0, 'in the augmented graph')).rejects.toThrow(/ONNX Runtime failed in the augmented graph: bad graph/);
    expect(disposed).toEqual(['y', 'y']);
  });

  it('splits a batch into chunks and queues runs in order', async () => {
    const seen: number[][] = [];
    const out = new Float32Array(5);
    await runChunked(session(), 5, 2, (s, m) => (seen.push([s, m]), { x: tensor('x', Array.from({ length: m }, (_, i) => s + i)) }), (r, s) => out.set(r.y.data as Float32Array, s), '');
    expect(seen).toEqual([[0, 2], [2, 2], [4, 1]]);
    expect(Array.from(out)).toEqual([0, 2, 4, 6, 8]);
    const q = new RunQueue();
    const order: number[] = [];
    const slow = q.enqueue(async () => { await new Promise((r) => setTimeout(r, 20)); order.push(1); throw new Error('first fails'); });
    const fast = q.enqueue(async () => { order.push(2); return 2; });
    await expect(slow).rejects.toThrow('first fails');
    expect(await fast).toBe(2);
    expect(order).toEqual([1, 2]);
  });
});
