/**
 * Test helpers that write checkpoint files by hand: zip archives (stored, deflated, zip64) and
 * the opcodes of a pickle, so tests can build `torch.save` files, and hostile variants, without
 * Python.
 */

import { deflateRawSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipInput {
  readonly name: string;
  readonly data: Uint8Array;
  /** Compress this entry with DEFLATE. */
  readonly deflate?: boolean;
}

/** Writes a zip archive; with `zip64`, every size and offset goes through the zip64 records. */
export function buildZip(
  entries: readonly ZipInput[],
  options: { zip64?: boolean } = {},
): Uint8Array {
  const zip64 = options.zip64 ?? false;
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const enc = new TextEncoder();
  for (const entry of entries) {
    const name = enc.encode(entry.name);
    const body = entry.deflate ? new Uint8Array(deflateRawSync(entry.data)) : entry.data;
    const crc = crc32(entry.data);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, zip64 ? 45 : 20, true);
    lv.setUint16(8, entry.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, zip64 ? 0xffffffff : body.length, true);
    lv.setUint32(22, zip64 ? 0xffffffff : entry.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const extra = zip64 ? new Uint8Array(4 + 24) : new Uint8Array(0);
    if (zip64) {
      const ev = new DataView(extra.buffer);
      ev.setUint16(0, 0x0001, true);
      ev.setUint16(2, 24, true);
      ev.setBigUint64(4, BigInt(entry.data.length), true);
      ev.setBigUint64(12, BigInt(body.length), true);
      ev.setBigUint64(20, BigInt(offset), true);
    }
    const dir = new Uint8Array(46 + name.length + extra.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, 0x02014b50, true);
    dv.setUint16(4, 45, true);
    dv.setUint16(6, zip64 ? 45 : 20, true);
    dv.setUint16(10, entry.deflate ? 8 : 0, true);
    dv.setUint32(16, crc, true);
    dv.setUint32(20, zip64 ? 0xffffffff : body.length, true);
    dv.setUint32(24, zip64 ? 0xffffffff : entry.data.length, true);
    dv.setUint16(28, name.length, true);
    dv.setUint16(30, extra.length, true);
    dv.setUint32(42, zip64 ? 0xffffffff : offset, true);
    dir.set(name, 46);
    dir.set(extra, 46 + name.length);
    central.push(dir);
    parts.push(local, body);
    offset += local.length + body.length;
  }
  const dirOffset = offset;
  const dirSize = central.reduce((n, c) => n + c.length, 0);
  parts.push(...central);
  offset += dirSize;
  if (zip64) {
    const record = new Uint8Array(56);
    const rv = new DataView(record.buffer);
    rv.setUint32(0, 0x06064b50, true);
    rv.setBigUint64(4, 44n, true);
    rv.setUint16(12, 45, true);
    rv.setUint16(14, 45, true);
    rv.setBigUint64(24, BigInt(entries.length), true);
    rv.setBigUint64(32, BigInt(entries.length), true);
    rv.setBigUint64(40, BigInt(dirSize), true);
    rv.setBigUint64(48, BigInt(dirOffset), true);
    const locator = new Uint8Array(20);
    const lv = new DataView(locator.buffer);
    lv.setUint32(0, 0x07064b50, true);
    lv.setBigUint64(8, BigInt(offset), true);
    lv.setUint32(16, 1, true);
    parts.push(record, locator);
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, zip64 ? 0xffff : entries.length, true);
  ev.setUint16(10, zip64 ? 0xffff : entries.length, true);
  ev.setUint32(12, zip64 ? 0xffffffff : dirSize, true);
  ev.setUint32(16, zip64 ? 0xffffffff : dirOffset, true);
  parts.push(end);
  return concat(parts);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Pickle opcodes as byte strings, written the way `pickle` protocol 2 writes them. */
export const op = {
  proto: (v = 2) => Uint8Array.of(0x80, v),
  stop: () => Uint8Array.of(0x2e),
  mark: () => Uint8Array.of(0x28),
  emptyDict: () => Uint8Array.of(0x7d),
  emptyTuple: () => Uint8Array.of(0x29),
  tuple: () => Uint8Array.of(0x74),
  tuple1: () => Uint8Array.of(0x85),
  tuple2: () => Uint8Array.of(0x86),
  tuple3: () => Uint8Array.of(0x87),
  reduce: () => Uint8Array.of(0x52),
  build: () => Uint8Array.of(0x62),
  setitems: () => Uint8Array.of(0x75),
  setitem: () => Uint8Array.of(0x73),
  binpersid: () => Uint8Array.of(0x51),
  newfalse: () => Uint8Array.of(0x89),
  none: () => Uint8Array.of(0x4e),
  stackGlobal: () => Uint8Array.of(0x93),
  int: (v: number) => {
    const b = new Uint8Array(5);
    b[0] = 0x4a;
    new DataView(b.buffer).setInt32(1, v, true);
    return b;
  },
  str: (s: string) => {
    const text = new TextEncoder().encode(s);
    const b = new Uint8Array(5 + text.length);
    b[0] = 0x58;
    new DataView(b.buffer).setUint32(1, text.length, true);
    b.set(text, 5);
    return b;
  },
  global: (module: string, name: string) => new TextEncoder().encode(`c${module}\n${name}\n`),
  ints: (values: readonly number[]) =>
    concat([op.mark(), ...values.map((v) => op.int(v)), op.tuple()]),
};

/** One tensor of a hand-written `torch.save` state dict. */
export interface TorchTensorSpec {
  readonly name: string;
  readonly storage: string;
  readonly storageType: string;
  readonly storageNumel: number;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
}

/** One float32 tensor of 32 elements in storage "0", the base of the hand-written archives. */
export const NORM_F: TorchTensorSpec = {
  name: 'backbone.norm_f.weight',
  storage: '0',
  storageType: 'FloatStorage',
  storageNumel: 32,
  offset: 0,
  shape: [32],
  stride: [1],
};

/** The `data.pkl` torch writes for a state dict: `{name: _rebuild_tensor_v2(...)}`. */
export function stateDictPickle(tensors: readonly TorchTensorSpec[], ordered = false): Uint8Array {
  const parts: Uint8Array[] = [op.proto(2)];
  parts.push(
    ordered
      ? concat([op.global('collections', 'OrderedDict'), op.emptyTuple(), op.reduce()])
      : op.emptyDict(),
  );
  parts.push(op.mark());
  for (const t of tensors) {
    parts.push(
      op.str(t.name),
      op.global('torch._utils', '_rebuild_tensor_v2'),
      op.mark(),
      op.mark(),
      op.str('storage'),
      op.global('torch', t.storageType),
      op.str(t.storage),
      op.str('cpu'),
      op.int(t.storageNumel),
      op.tuple(),
      op.binpersid(),
      op.int(t.offset),
      op.ints(t.shape),
      op.ints(t.stride),
      op.newfalse(),
      op.global('collections', 'OrderedDict'),
      op.emptyTuple(),
      op.reduce(),
      op.tuple(),
      op.reduce(),
    );
  }
  parts.push(op.setitems(), op.stop());
  return concat(parts);
}

/** A `torch.save` archive: `archive/data.pkl`, `archive/data/<key>`, `archive/version`, optional byteorder. */
export function torchArchive(
  pickle: Uint8Array,
  storages: Readonly<Record<string, Uint8Array>>,
  options: { byteorder?: string; zip64?: boolean; deflate?: boolean; prefix?: string } = {},
): Uint8Array {
  const prefix = options.prefix ?? 'archive';
  const entries: ZipInput[] = [
    { name: `${prefix}/data.pkl`, data: pickle, deflate: options.deflate },
  ];
  if (options.byteorder !== undefined) {
    entries.push({
      name: `${prefix}/byteorder`,
      data: new TextEncoder().encode(options.byteorder),
    });
  }
  for (const [key, data] of Object.entries(storages)) {
    entries.push({ name: `${prefix}/data/${key}`, data, deflate: options.deflate });
  }
  entries.push({ name: `${prefix}/version`, data: new TextEncoder().encode('3\n') });
  return buildZip(entries, { zip64: options.zip64 });
}
