/** Bytes of one file received so far while a model loads (`total` when the size is known). */
export interface LoadProgress {
  file: string;
  loaded: number;
  total?: number;
}

/** Read a byte stream to its end, reporting the bytes received after each chunk. */
export async function readChunks(
  reader: { read(): Promise<{ done: boolean; value?: Uint8Array }> }, file: string, total: number | undefined, onProgress?: (p: LoadProgress) => void,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!value) continue;
    chunks.push(value);
    loaded += value.length;
    onProgress?.({ file, loaded, ...(total !== undefined ? { total } : {}) });
  }
  const out = new Uint8Array(loaded);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
