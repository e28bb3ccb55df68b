import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensorsFile, writeSafetensorsFile } from '@statetune/tensor/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  CheckpointValidationError,
  openCheckpointFromFiles,
  validateCheckpoint,
} from '../src/checkpoint/index.js';
import { openCheckpoint } from '../src/checkpoint/node.js';
import { bytesSource } from '../src/checkpoint/source.js';
import { ZipReader } from '../src/checkpoint/zip.js';
import { MambaConfigError } from '../src/config.js';
import {
  buildZip,
  concat,
  NORM_F,
  op,
  stateDictPickle,
  torchArchive,
} from './fixtures-hostile/builders.js';
import { fixturesDir } from './helpers.js';

const HF = join(fixturesDir(), 'mamba-tiny');
const BIN = join(fixturesDir(), 'mamba-tiny-bin');

let tmp: string;
let hfConfig: Uint8Array;
let ssmConfig: Uint8Array;
let hfWeights: Uint8Array;
let binWeights: Uint8Array;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'statetune-hostile-'));
  hfConfig = await readFile(join(HF, 'config.json'));
  ssmConfig = await readFile(join(BIN, 'config.json'));
  hfWeights = await readFile(join(HF, 'model.safetensors'));
  binWeights = await readFile(join(BIN, 'pytorch_model.bin'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Writes a checkpoint directory and returns its path. */
async function dir(name: string, files: Record<string, Uint8Array | string>): Promise<string> {
  const path = join(tmp, name);
  await mkdir(path, { recursive: true });
  for (const [file, data] of Object.entries(files)) await writeFile(join(path, file), data);
  return path;
}

/** The error `promise` rejects with, checked to be a CheckpointError. */
async function failure(promise: Promise<unknown>): Promise<CheckpointError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('expected the checkpoint to be refused');
}

/** The message a `pytorch_model.bin` (with the state-spaces fixture config) is refused with. */
async function binFailure(bin: Uint8Array, name = '<memory>'): Promise<string> {
  return (
    await failure(
      openCheckpointFromFiles({ 'config.json': ssmConfig, 'pytorch_model.bin': bin }, name),
    )
  ).message;
}

describe('malformed files', () => {
  it('refuses a truncated safetensors file, naming it (disk and memory)', async () => {
    const cut = hfWeights.subarray(0, hfWeights.length - 100);
    const path = await dir('trunc-st', { 'config.json': hfConfig, 'model.safetensors': cut });
    const e = await failure(openCheckpoint(path));
    expect(e.message).toContain(join(path, 'model.safetensors'));
    expect(e.message).toMatch(/truncated|larger than|shorter/);
    const m = await failure(
      openCheckpointFromFiles({ 'config.json': hfConfig, 'model.safetensors': cut }, 'mem'),
    );
    expect(m.message).toMatch(/^mem\/model.safetensors: .*truncated/);
  });

  it('refuses a safetensors header that claims more bytes than the file has', async () => {
    const bad = new Uint8Array(hfWeights);
    new DataView(bad.buffer).setBigUint64(0, BigInt(hfWeights.length), true);
    const path = await dir('long-header', { 'config.json': hfConfig, 'model.safetensors': bad });
    expect((await failure(openCheckpoint(path))).message).toMatch(
      /model.safetensors: header length \d+ .*larger than the file/,
    );
    expect(
      (
        await failure(
          openCheckpointFromFiles({ 'config.json': hfConfig, 'model.safetensors': bad }),
        )
      ).message,
    ).toMatch(/model.safetensors: header length \d+ .*larger than the file allows/);
    const tiny = await failure(
      openCheckpointFromFiles({ 'config.json': hfConfig, 'model.safetensors': new Uint8Array(3) }),
    );
    expect(tiny.message).toContain('shorter than the 8-byte header');
  });

  it('refuses a truncated or foreign pytorch_model.bin, naming it', async () => {
    const cut = binWeights.subarray(0, binWeights.length - 30);
    const path = await dir('trunc-bin', { 'config.json': ssmConfig, 'pytorch_model.bin': cut });
    const e = await failure(openCheckpoint(path));
    expect(e.message).toBe(
      `${join(path, 'pytorch_model.bin')}: zip archive is truncated: its end-of-central-directory record is missing`,
    );
    const notZip = await failure(
      openCheckpointFromFiles({
        'config.json': ssmConfig,
        'pytorch_model.bin': new TextEncoder().encode('hello, this is not a checkpoint at all'),
      }),
    );
    expect(notZip.message).toMatch(/pytorch_model.bin: not a zip archive .*legacy/);
    // The legacy (pre-1.6) format is a bare pickle stream.
    const legacy = concat([op.proto(2), new Uint8Array(64)]);
    expect(await binFailure(legacy)).toContain('not a zip archive');
    // A central directory pointing past the end of the file.
    const liar = new Uint8Array(binWeights);
    const view = new DataView(liar.buffer);
    view.setUint32(liar.length - 22 + 16, liar.length + 1000, true);
    expect(await binFailure(liar)).toMatch(
      /pytorch_model.bin: file is truncated or corrupt: the zip central directory/,
    );
  });

  it('refuses archives with missing entries or short storages', async () => {
    const spec = NORM_F;
    const noStorage = torchArchive(stateDictPickle([spec]), {});
    expect(await binFailure(noStorage)).toContain(
      'tensor "backbone.norm_f.weight" points to storage "0", but the archive has no entry archive/data/0',
    );
    const short = torchArchive(stateDictPickle([spec]), { '0': new Uint8Array(100) });
    expect(await binFailure(short)).toContain('holds 100 bytes, but its 32 F32 elements need 128');
    const outside = torchArchive(stateDictPickle([{ ...spec, offset: 1 }]), {
      '0': new Uint8Array(128),
    });
    expect(await binFailure(outside)).toContain('outside its storage of 32 elements');
    const noPickle = buildZip([{ name: 'archive/version', data: new Uint8Array([51]) }]);
    expect(await binFailure(noPickle)).toContain('no data.pkl entry');
    const ints = torchArchive(stateDictPickle([{ ...spec, storageType: 'LongStorage' }]), {
      '0': new Uint8Array(256),
    });
    expect(await binFailure(ints)).toContain('is stored as torch.LongStorage');
  });

  it('refuses views with more elements than their storage before reading anything', async () => {
    // An expanded tensor: a million elements over one stored float.
    const expanded = torchArchive(
      stateDictPickle([{ ...NORM_F, storageNumel: 1, shape: [1 << 20], stride: [0] }]),
      { '0': new Uint8Array(4) },
    );
    expect(await binFailure(expanded)).toContain(
      'tensor "backbone.norm_f.weight" (shape [1048576], stride [0]) has 1048576 elements, more than its storage of 1; views that repeat elements are not supported',
    );
  });

  it('refuses a data.pkl larger than any state dict needs, before inflating it', async () => {
    const bomb = torchArchive(
      stateDictPickle([NORM_F]),
      { '0': new Uint8Array(128) },
      { deflate: true },
    );
    // data.pkl is the first entry: claim 65 MiB for it in the central directory, as a
    // deflated pickle of 65 MiB (a few tens of KiB on disk) would.
    const view = new DataView(bomb.buffer, bomb.byteOffset, bomb.byteLength);
    const dirAt = view.getUint32(bomb.length - 22 + 16, true);
    view.setUint32(dirAt + 24, 65 * 2 ** 20, true);
    expect(await binFailure(bomb)).toContain(
      'archive/data.pkl is 68157440 bytes; a state dict pickle only describes tensors (their data is in other entries) and is refused above 67108864 bytes',
    );
  });

  it('refuses a zip archive with two entries of the same name', async () => {
    const twice = buildZip([
      { name: 'archive/data.pkl', data: stateDictPickle([NORM_F]) },
      { name: 'archive/data/0', data: new Uint8Array(128) },
      { name: 'archive/data/0', data: new Uint8Array(128).fill(1) },
    ]);
    expect(await binFailure(twice)).toContain(
      'zip archive holds two entries named "archive/data/0"',
    );
  });

  it('refuses a directory without weights or config, and a broken config', async () => {
    const noWeights = await dir('no-weights', { 'config.json': hfConfig });
    expect((await failure(openCheckpoint(noWeights))).message).toContain('has no weights');
    const noConfig = await dir('no-config', { 'model.safetensors': hfWeights });
    expect((await failure(openCheckpoint(noConfig))).message).toContain('has no config.json');
    const badJson = await dir('bad-json', {
      'config.json': '{"hidden_size": 32,',
      'model.safetensors': hfWeights,
    });
    expect((await failure(openCheckpoint(badJson))).message).toContain(
      'config.json: is not valid JSON',
    );
    const mamba2 = await dir('mamba2', {
      'config.json': JSON.stringify({
        d_model: 32,
        n_layer: 2,
        vocab_size: 64,
        ssm_cfg: { layer: 'Mamba2' },
      }),
      'model.safetensors': hfWeights,
    });
    await expect(openCheckpoint(mamba2)).rejects.toBeInstanceOf(MambaConfigError);
    await expect(openCheckpoint(mamba2)).rejects.toThrow(
      /mamba2\/config.json: "ssm_cfg.layer" must be "Mamba1"/,
    );
  });

  it('refuses shard names that leave the directory', async () => {
    const index = JSON.stringify({
      weight_map: { 'backbone.norm_f.weight': '../../etc/model.safetensors' },
    });
    const e = await failure(
      openCheckpointFromFiles({
        'config.json': hfConfig,
        'model.safetensors.index.json': new TextEncoder().encode(index),
      }),
    );
    expect(e.message).toContain('must name a .safetensors file in the same directory');
  });
});

describe('validation', () => {
  it('reports missing, unexpected and mis-shaped tensors by name, all at once', async () => {
    const { tensors } = await readSafetensorsFile(join(HF, 'model.safetensors'));
    const inputs: Record<string, { dtype: 'float32'; shape: number[]; values: Float32Array }> = {};
    for (const [name, t] of tensors)
      inputs[name] = { dtype: 'float32', shape: t.shape, values: t.values as Float32Array };
    delete inputs['backbone.layers.1.mixer.D'];
    delete inputs['backbone.norm_f.weight'];
    inputs['backbone.layers.2.norm.weight'] = {
      dtype: 'float32',
      shape: [32],
      values: new Float32Array(32),
    };
    inputs['backbone.layers.0.mixer.A_log'] = {
      ...inputs['backbone.layers.0.mixer.A_log'],
      shape: [8, 64],
    };
    inputs['backbone.layers.1.mixer.conv1d.weight'] = {
      ...inputs['backbone.layers.1.mixer.conv1d.weight'],
      shape: [64, 4],
    };
    const path = join(tmp, 'mismatch');
    await mkdir(path, { recursive: true });
    await writeFile(join(path, 'config.json'), hfConfig);
    await writeSafetensorsFile(join(path, 'model.safetensors'), inputs);
    const ckpt = await openCheckpoint(path);
    let error: CheckpointValidationError | undefined;
    try {
      validateCheckpoint(ckpt);
    } catch (e) {
      error = e as CheckpointValidationError;
    }
    await ckpt.close();
    expect(error).toBeInstanceOf(CheckpointValidationError);
    expect(error!.missing).toEqual(['backbone.layers.1.mixer.D', 'backbone.norm_f.weight']);
    expect(error!.unexpected).toEqual(['backbone.layers.2.norm.weight']);
    expect(error!.misshaped).toEqual([
      { name: 'backbone.layers.0.mixer.A_log', expected: [64, 8], got: [8, 64] },
      { name: 'backbone.layers.1.mixer.conv1d.weight', expected: [64, 1, 4], got: [64, 4] },
    ]);
    for (const text of [
      'missing 2: backbone.layers.1.mixer.D, backbone.norm_f.weight',
      'unexpected 1: backbone.layers.2.norm.weight',
      'backbone.layers.0.mixer.A_log is [8, 64], expected [64, 8]',
    ]) {
      expect(error!.message).toContain(text);
    }
  });

  it('reports an untied head that is missing, and a tied head of the wrong shape', async () => {
    const { tensors } = await readSafetensorsFile(join(HF, 'model.safetensors'));
    const inputs: Record<string, { dtype: 'float32'; shape: number[]; values: Float32Array }> = {};
    for (const [name, t] of tensors)
      inputs[name] = { dtype: 'float32', shape: t.shape, values: t.values as Float32Array };
    const config = JSON.parse(new TextDecoder().decode(hfConfig));
    const { serializeSafetensors } = await import('./fixtures-hostile/safetensors-bytes.js');
    const untied = await openCheckpointFromFiles({
      'config.json': new TextEncoder().encode(
        JSON.stringify({ ...config, tie_word_embeddings: false }),
      ),
      'model.safetensors': serializeSafetensors(inputs),
    });
    expect(() => validateCheckpoint(untied)).toThrow(/missing 1: lm_head.weight/);
    const badHead = await openCheckpointFromFiles({
      'config.json': hfConfig,
      'model.safetensors': serializeSafetensors({
        ...inputs,
        'lm_head.weight': { dtype: 'float32', shape: [32, 64], values: new Float32Array(2048) },
      }),
    });
    expect(() => validateCheckpoint(badHead)).toThrow(/unexpected 1: lm_head.weight/);
    // Both names of the embedding at once is ambiguous.
    await expect(
      openCheckpointFromFiles({
        'config.json': hfConfig,
        'model.safetensors': serializeSafetensors({
          ...inputs,
          'backbone.embedding.weight': inputs['backbone.embeddings.weight'],
        }),
      }),
    ).rejects.toThrow(
      /holds both "backbone.embedding.weight" and "backbone.embeddings.weight"|holds both "backbone.embeddings.weight" and "backbone.embedding.weight"/,
    );
  });
});

/** A pytorch_model.bin whose data.pkl is `pickle`, with one 32-float storage. */
function binWith(pickle: Uint8Array): Uint8Array {
  return torchArchive(pickle, { '0': new Uint8Array(128) });
}

/** The pickle of `callable(arg)`, the shape of every `__reduce__` exploit. */
function callPickle(module: string, name: string, arg: string): Uint8Array {
  return concat([
    op.proto(2),
    op.global(module, name),
    op.str(arg),
    op.tuple1(),
    op.reduce(),
    op.stop(),
  ]);
}

describe('hostile pickles', () => {
  async function refused(pickle: Uint8Array): Promise<string> {
    const e = await failure(
      openCheckpointFromFiles(
        { 'config.json': ssmConfig, 'pytorch_model.bin': binWith(pickle) },
        'evil',
      ),
    );
    expect(e.message.startsWith('evil/pytorch_model.bin (archive/data.pkl): pickle ')).toBe(true);
    return e.message;
  }

  it('refuses os.system, posix.system and builtins.eval at the GLOBAL, before anything could be called', async () => {
    (globalThis as Record<string, unknown>).__statetunePwned = undefined;
    expect(await refused(callPickle('os', 'system', 'touch /tmp/pwned'))).toContain(
      'opcode GLOBAL at byte 2: global "os.system" is not allowed',
    );
    expect(await refused(callPickle('posix', 'system', 'id'))).toContain(
      'global "posix.system" is not allowed',
    );
    expect(
      await refused(callPickle('builtins', 'eval', 'globalThis.__statetunePwned = 1')),
    ).toContain('global "builtins.eval" is not allowed');
    expect(await refused(callPickle('__builtin__', 'exec', 'x'))).toContain(
      'global "__builtin__.exec" is not allowed',
    );
    expect((globalThis as Record<string, unknown>).__statetunePwned).toBeUndefined();
  });

  it('refuses the same through STACK_GLOBAL and inside a state dict entry', async () => {
    const stackGlobal = concat([
      op.proto(4),
      op.str('os'),
      op.str('system'),
      op.stackGlobal(),
      op.str('id'),
      op.tuple1(),
      op.reduce(),
      op.stop(),
    ]);
    expect(await refused(stackGlobal)).toContain('opcode STACK_GLOBAL');
    expect(await refused(stackGlobal)).toContain('global "os.system" is not allowed');
    // A state dict whose second value is a __reduce__ of subprocess.Popen.
    const good = stateDictPickle([{ ...NORM_F, name: 'a' }]);
    const evil = concat([
      good.subarray(0, good.length - 2), // drop SETITEMS and STOP
      op.str('b'),
      op.global('subprocess', 'Popen'),
      op.str('id'),
      op.tuple1(),
      op.reduce(),
      op.setitems(),
      op.stop(),
    ]);
    expect(await refused(evil)).toContain('global "subprocess.Popen" is not allowed');
  });

  it('refuses REDUCE on allowed globals that are not callable, and on non-globals', async () => {
    const storageCall = concat([
      op.proto(2),
      op.global('torch', 'FloatStorage'),
      op.emptyTuple(),
      op.reduce(),
      op.stop(),
    ]);
    expect(await refused(storageCall)).toContain('opcode REDUCE at byte 23: REDUCE may only call');
    const stringCall = concat([
      op.proto(2),
      op.str('os.system'),
      op.emptyTuple(),
      op.reduce(),
      op.stop(),
    ]);
    expect(await refused(stringCall)).toContain('not "os.system"');
  });

  it('refuses unknown and code-running opcodes', async () => {
    expect(await refused(concat([op.proto(2), Uint8Array.of(0xff), op.stop()]))).toContain(
      'unknown opcode 0xff',
    );
    // INST: the protocol 0 way to instantiate any class.
    const inst = concat([
      op.proto(2),
      op.mark(),
      op.str('id'),
      new TextEncoder().encode('ios\nsystem\n'),
      op.stop(),
    ]);
    expect(await refused(inst)).toContain('opcode INST (0x69) is not allowed');
    const newobj = concat([
      op.proto(2),
      op.global('collections', 'OrderedDict'),
      op.emptyTuple(),
      Uint8Array.of(0x81),
      op.stop(),
    ]);
    expect(await refused(newobj)).toContain('opcode NEWOBJ (0x81) is not allowed');
    expect(await refused(concat([op.proto(2), Uint8Array.of(0x82, 1), op.stop()]))).toContain(
      'EXT1',
    );
  });

  it('refuses long and odd MARK runs with a checkpoint error, not a crash', async () => {
    const many = new Uint8Array(300_000).fill(0x4e); // NONE
    const appends = concat([
      op.proto(2),
      Uint8Array.of(0x5d),
      op.mark(),
      many,
      Uint8Array.of(0x65),
      op.stop(),
    ]);
    expect(await refused(appends)).toContain(
      'the pickle holds a tuple or list, expected a state dict',
    );
    const oddDict = concat([op.proto(2), op.mark(), op.str('a'), Uint8Array.of(0x64), op.stop()]);
    expect(await refused(oddDict)).toContain('opcode DICT at byte 9: odd number of items');
  });

  it('refuses BUILD with odd state, odd persistent ids and non-tensor values', async () => {
    const spec = { ...NORM_F, name: 'a' };
    const good = stateDictPickle([spec]);
    // BUILD on the dict with a non-dict state, and with an attribute other than _metadata.
    const withState = (state: Uint8Array) =>
      concat([good.subarray(0, good.length - 1), state, op.build(), op.stop()]);
    expect(await refused(withState(op.str('x')))).toContain(
      'BUILD state must be a dict of attributes, got "x"',
    );
    expect(
      await refused(
        withState(concat([op.emptyDict(), op.str('__class__'), op.str('x'), op.setitem()])),
      ),
    ).toContain('BUILD may only set "_metadata"');
    // BUILD on a tensor (the way __setstate__ payloads arrive).
    const buildTensor = concat([
      good.subarray(0, good.length - 2),
      op.emptyDict(),
      op.build(),
      op.setitems(),
      op.stop(),
    ]);
    expect(await refused(buildTensor)).toContain(
      'BUILD is only allowed on a dict, not on a tensor',
    );
    // A storage key that tries to leave the archive.
    const traversal = stateDictPickle([{ ...spec, storage: '../../etc/passwd' }]);
    expect(await refused(traversal)).toContain('storage key "../../etc/passwd"');
    // A persistent id that is not a storage.
    const pid = concat([op.proto(2), op.str('file:///etc/passwd'), op.binpersid(), op.stop()]);
    expect(await refused(pid)).toContain("persistent id must be ('storage'");
    // Values that are not tensors, and no STOP.
    const notTensor = concat([
      op.proto(2),
      op.emptyDict(),
      op.str('a'),
      op.str('b'),
      op.setitem(),
      op.stop(),
    ]);
    expect(await refused(notTensor)).toContain('state dict entry "a" is "b", not a tensor');
    expect(await refused(good.subarray(0, good.length - 1))).toContain('no STOP opcode');
    expect(await refused(good.subarray(0, 40))).toContain('truncated');
  });

  it('accepts the _metadata attribute torch attaches to a state dict', async () => {
    const spec = NORM_F;
    const good = stateDictPickle([spec], true);
    const metadata = concat([
      op.emptyDict(),
      op.str('_metadata'),
      op.global('collections', 'OrderedDict'),
      op.emptyTuple(),
      op.reduce(),
      op.mark(),
      op.str(''),
      op.emptyDict(),
      op.str('version'),
      op.int(1),
      op.setitem(),
      op.setitems(),
      op.setitem(),
    ]);
    const bin = torchArchive(
      concat([good.subarray(0, good.length - 1), metadata, op.build(), op.stop()]),
      {
        '0': new Uint8Array(new Float32Array(32).fill(2).buffer),
      },
    );
    const ckpt = await openCheckpointFromFiles({
      'config.json': ssmConfig,
      'pytorch_model.bin': bin,
    });
    expect([...(await ckpt.read('backbone.norm_f.weight'))]).toEqual(new Array(32).fill(2));
    await ckpt.close();
  });
});

describe('hostile zip entries', () => {
  it('stops inflating a deflated entry at the size the directory claims', async () => {
    const zip = buildZip([{ name: 'a/data/0', data: new Uint8Array(1 << 16), deflate: true }]);
    // Claim 16 bytes uncompressed in the central directory, the way a "zip bomb" would lie.
    const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
    const dirAt = view.getUint32(zip.length - 22 + 16, true);
    expect(view.getUint32(dirAt, true)).toBe(0x02014b50);
    view.setUint32(dirAt + 24, 16, true);
    const reader = await ZipReader.open(bytesSource(zip, 'bomb.bin'));
    await expect(reader.read(reader.entry('a/data/0'))).rejects.toThrow(
      'bomb.bin: zip entry "a/data/0" inflates to more than 16 bytes, but the directory says 16',
    );
    // A size no deflate stream of that many compressed bytes can reach: refused unread.
    view.setUint32(dirAt + 24, 0xfffffff0, true);
    const liar = await ZipReader.open(bytesSource(zip, 'bomb.bin'));
    await expect(liar.read(liar.entry('a/data/0'))).rejects.toThrow(
      /bomb.bin: zip entry "a\/data\/0" claims 4294967280 bytes from \d+ compressed bytes, more than deflate can produce/,
    );
    const honest = await ZipReader.open(
      bytesSource(buildZip([{ name: 'x', data: new Uint8Array(1000).fill(3), deflate: true }])),
    );
    expect((await honest.read(honest.entry('x'), 990, 10)).every((b) => b === 3)).toBe(true);
  });
});
