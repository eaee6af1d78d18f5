import { Tensor, type InferenceSession } from 'onnxruntime-node';

/** Feeds of the shipped MNIST UNets for a batch of b: `sample` [b, 1, 28, 28] as given, t = 500, labels 0–9 cycled. */
export function mnistFeeds(sample: Float32Array, b: number): Record<string, Tensor> {
  return {
    sample: new Tensor('float32', sample, [b, 1, 28, 28]),
    timestep: new Tensor('float32', new Float32Array(b).fill(500), [b]),
    class_labels: new Tensor('int64', BigInt64Array.from({ length: b }, (_, i) => BigInt(i % 10)), [b]),
  };
}

/**
 * Wall times (ms, sorted) of `session.run(feeds)` for each session, the sessions taking turns in every round so
 * that a change in the machine's load reaches them alike; the first `warmup` rounds are dropped.
 */
export async function alternatingTimes(sessions: InferenceSession[], feeds: Record<string, Tensor>, rounds: number, warmup: number): Promise<number[][]> {
  const times: number[][] = sessions.map(() => []);
  for (let round = 0; round < warmup + rounds; round++) {
    for (const [k, session] of sessions.entries()) {
      const t0 = performance.now();
      await session.run(feeds);
      if (round >= warmup) times[k].push(performance.now() - t0);
    }
  }
  return times.map((t) => t.sort((x, y) => x - y));
}
