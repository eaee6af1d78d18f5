import { readFileSync } from 'node:fs';

/**
 * The initializers (weights) of an ONNX file, read straight from its protobuf bytes, so tests can
 * check a network's weights without trusting what a card says about them. Only what that needs:
 * ModelProto.graph (7) → GraphProto.initializer (5) → TensorProto name (8), data_type (2) and the
 * values as raw_data (9), float_data (4) or int32_data (5). Float (1), int8 (3) and int32 (6) tensors.
 */

type Field = { field: number; wire: number; value: bigint | Uint8Array };

function varint(b: Uint8Array, at: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const byte = b[at++];
    v |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [v, at];
    shift += 7n;
  }
}

function* fields(b: Uint8Array): Generator<Field> {
  let at = 0;
  while (at < b.length) {
    const [key, next] = varint(b, at);
    at = next;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [v, n] = varint(b, at);
      at = n;
      yield { field, wire, value: v };
    } else if (wire === 2) {
      const [len, n] = varint(b, at);
      const end = n + Number(len);
      yield { field, wire, value: b.subarray(n, end) };
      at = end;
    } else if (wire === 5) {
      yield { field, wire, value: b.subarray(at, at + 4) };
      at += 4;
    } else if (wire === 1) {
      yield { field, wire, value: b.subarray(at, at + 8) };
      at += 8;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

const FLOAT = 1;
const INT8 = 3;
const INT32 = 6;

function tensorValues(t: Uint8Array): { name: string; values: number[] } | undefined {
  let name = '';
  let type = 0;
  let raw: Uint8Array | undefined;
  const listed: number[] = [];
  for (const f of fields(t)) {
    if (f.field === 8 && f.value instanceof Uint8Array) name = new TextDecoder().decode(f.value);
    else if (f.field === 2 && typeof f.value === 'bigint') type = Number(f.value);
    else if (f.field === 9 && f.value instanceof Uint8Array) raw = f.value;
    else if (f.field === 4 && f.value instanceof Uint8Array) {
      const v = new DataView(f.value.buffer, f.value.byteOffset, f.value.byteLength);
      for (let i = 0; i + 4 <= f.value.byteLength; i += 4) listed.push(v.getFloat32(i, true));
    } else if (f.field === 5) {
      if (typeof f.value === 'bigint') listed.push(Number(BigInt.asIntN(32, f.value)));
      else for (let at = 0; at < f.value.length; ) {
        const [v, n] = varint(f.value, at);
        listed.push(Number(BigInt.asIntN(32, v)));
        at = n;
      }
    }
  }
  if (type !== FLOAT && type !== INT8 && type !== INT32) return undefined;
  if (!raw) return { name, values: listed };
  if (type === INT8) return { name, values: Array.from(new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength)) };
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const values: number[] = [];
  for (let i = 0; i + 4 <= raw.byteLength; i += 4) values.push(type === FLOAT ? v.getFloat32(i, true) : v.getInt32(i, true));
  return { name, values };
}

/** name → values of every float32, int8 and int32 initializer of the ONNX file at `path`. */
export function onnxInitializers(path: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of fields(new Uint8Array(readFileSync(path)))) {
    if (m.field !== 7 || !(m.value instanceof Uint8Array)) continue;
    for (const g of fields(m.value)) {
      if (g.field !== 5 || !(g.value instanceof Uint8Array)) continue;
      const t = tensorValues(g.value);
      if (t) out.set(t.name, t.values);
    }
  }
  return out;
}
