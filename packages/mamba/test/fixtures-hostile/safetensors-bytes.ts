/** Test helper: safetensors bytes in memory (F32 only), for hand-made checkpoints. */

export function serializeSafetensors(
  tensors: Record<
    string,
    { readonly dtype?: string; shape: readonly number[]; values: Float32Array }
  >,
): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const n = tensors[name].values.length * 4;
    header[name] = { dtype: 'F32', shape: tensors[name].shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const v = tensors[name].values;
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), at);
    at += v.byteLength;
  }
  return out;
}
