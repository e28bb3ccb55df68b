import type { BinaryOp, UnaryOp, View } from '@statetune/tensor';
import { BINARY_OPS, TensorError, UNARY_OPS } from '@statetune/tensor';
import {
  type DeviceDType,
  deviceDType,
  type GpuData,
  type GpuRuntime,
  wgslType,
} from '../runtime.js';
import { WGSL } from '../shaders.gen.js';
import { WGSL_BINARY, WGSL_UNARY } from './ops-table.js';
import { extraParamIndex, launchStrided, STRIDED_WGSL, type StridedOperand } from './strided.js';

/**
 * Elementwise kernels generated from the op table: each output element is one invocation
 * that reads its inputs through their strides (broadcast axes have stride 0) and converts
 * to the output dtype as a JavaScript typed-array store would.
 */

interface Input {
  readonly name: string;
  readonly dtype: DeviceDType;
  /** The type the expression reads it as. */
  readonly as: 'f32' | 'i32';
}

function load(input: Input, k: number): string {
  const raw = `in${k}[elementOf(${k + 1}u, flat)]`;
  const t = wgslType(input.dtype);
  return `let ${input.name} = ${t === input.as ? raw : `${input.as}(${raw})`};`;
}

function store(value: string, from: 'f32' | 'i32' | 'bool', to: DeviceDType): string {
  if (from === 'bool')
    return to === 'int32' ? `select(0, 1, ${value})` : `select(0.0, 1.0, ${value})`;
  if (to === 'float32') return from === 'f32' ? value : `f32(${value})`;
  return from === 'i32' ? value : `toI32(${value})`;
}

/** WGSL of a strided elementwise kernel: `out = expr(inputs)`. */
function source(
  inputs: readonly Input[],
  out: DeviceDType,
  expr: string,
  result: 'f32' | 'i32' | 'bool',
): string {
  const decls = inputs
    .map(
      (inp, k) =>
        `@group(0) @binding(${k + 1}) var<storage, read> in${k}: array<${wgslType(inp.dtype)}>;`,
    )
    .join('\n');
  return `
@group(0) @binding(0) var<storage, read_write> out: array<${wgslType(out)}>;
${decls}
@group(0) @binding(${inputs.length + 1}) var<storage, read> P: array<u32>;
${WGSL['kernels/math']}
${STRIDED_WGSL}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P[0]) { return; }
  let flat = i + P[2];
  ${inputs.map(load).join('\n  ')}
  out[elementOf(0u, flat)] = ${store(`(${expr})`, result, out)};
}
`;
}

function operandOf(v: View): StridedOperand {
  return { data: v.data as GpuData, offset: v.offset, strides: v.strides };
}

function contiguousOut(data: GpuData, shape: readonly number[]): StridedOperand {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return { data, offset: 0, strides };
}

function run(
  rt: GpuRuntime,
  op: string,
  key: string,
  inputs: readonly Input[],
  views: readonly View[],
  out: StridedOperand,
  outDtype: DeviceDType,
  shape: readonly number[],
  expr: string,
  result: 'f32' | 'i32' | 'bool',
): void {
  const kernel = rt.kernel(key, ['write', ...inputs.map(() => 'read' as const)], () =>
    source(inputs, outDtype, expr, result),
  );
  launchStrided(rt, op, kernel, shape, [out, ...views.map(operandOf)]);
}

/** `op(x)` into a new contiguous buffer of `outDtype`. */
export function unary(rt: GpuRuntime, op: UnaryOp, x: View, outDtype: DeviceDType): GpuData {
  const spec = WGSL_UNARY[op];
  if (!spec) throw new TensorError(op, `no WGSL kernel for unary op "${op}"`);
  const inType = deviceDType(op, x.dtype);
  const keepsInt = 'keepsInt' in UNARY_OPS[op] && inType === 'int32' && outDtype === 'int32';
  const as = keepsInt ? 'i32' : 'f32';
  const expr = keepsInt ? (spec.i as string) : spec.f;
  const out = rt.output(outDtype, sizeOfShape(x.shape));
  run(
    rt,
    op,
    `unary:${op}:${inType}:${outDtype}`,
    [{ name: 'x', dtype: inType, as }],
    [x],
    contiguousOut(out, x.shape),
    outDtype,
    x.shape,
    expr,
    as,
  );
  return out;
}

/** dx = dy * f'(x) from the table's gradient expression. */
export function unaryGrad(rt: GpuRuntime, op: UnaryOp, x: View, y: View, dy: View): GpuData {
  const outDtype = deviceDType(`${op} backward`, dy.dtype);
  const spec = WGSL_UNARY[op];
  const out = rt.output(outDtype, sizeOfShape(x.shape));
  const inputs: Input[] = [
    { name: 'x', dtype: deviceDType(op, x.dtype), as: 'f32' },
    { name: 'y', dtype: deviceDType(op, y.dtype), as: 'f32' },
    { name: 'dy', dtype: outDtype, as: 'f32' },
  ];
  run(
    rt,
    `${op} backward`,
    `unaryGrad:${op}:${inputs.map((i) => i.dtype).join(':')}`,
    inputs,
    [x, y, dy],
    contiguousOut(out, x.shape),
    outDtype,
    x.shape,
    spec.grad,
    'f32',
  );
  return out;
}

/** `op(a, b)` over views already broadcast to `shape`. */
export function binary(
  rt: GpuRuntime,
  op: BinaryOp,
  a: View,
  b: View,
  shape: readonly number[],
  outDtype: DeviceDType,
): GpuData {
  const spec = WGSL_BINARY[op];
  if (!spec) throw new TensorError(op, `no WGSL kernel for binary op "${op}"`);
  const ta = deviceDType(op, a.dtype);
  const tb = deviceDType(op, b.dtype);
  const intMath = ta === 'int32' && tb === 'int32' && spec.i !== undefined;
  const as = intMath ? 'i32' : 'f32';
  const compare = 'compare' in BINARY_OPS[op];
  const out = rt.output(outDtype, sizeOfShape(shape));
  run(
    rt,
    op,
    `binary:${op}:${ta}:${tb}:${outDtype}`,
    [
      { name: 'a', dtype: ta, as },
      { name: 'b', dtype: tb, as },
    ],
    [a, b],
    contiguousOut(out, shape),
    outDtype,
    shape,
    intMath ? (spec.i as string) : spec.f,
    compare ? 'bool' : as,
  );
  return out;
}

/** cond != 0 ? a : b. */
export function where(
  rt: GpuRuntime,
  cond: View,
  a: View,
  b: View,
  shape: readonly number[],
  outDtype: DeviceDType,
): GpuData {
  const tc = deviceDType('where', cond.dtype);
  const ta = deviceDType('where', a.dtype);
  const tb = deviceDType('where', b.dtype);
  const as = outDtype === 'int32' ? 'i32' : 'f32';
  const out = rt.output(outDtype, sizeOfShape(shape));
  run(
    rt,
    'where',
    `where:${tc}:${ta}:${tb}:${outDtype}`,
    [
      { name: 'c', dtype: tc, as: wgslType(tc) },
      { name: 'a', dtype: ta, as },
      { name: 'b', dtype: tb, as },
    ],
    [cond, a, b],
    contiguousOut(out, shape),
    outDtype,
    shape,
    tc === 'int32' ? 'select(b, a, c != 0)' : 'select(b, a, c != 0.0)',
    as,
  );
  return out;
}

/** A contiguous copy of a view, converted to `dtype`. */
export function copy(rt: GpuRuntime, x: View, dtype: DeviceDType): GpuData {
  const tx = deviceDType('copy', x.dtype);
  const out = rt.output(dtype, sizeOfShape(x.shape));
  copyTo(rt, 'copy', contiguousOut(out, x.shape), dtype, x, tx);
  return out;
}

/** Writes `src` into the strided region `dst` (which must not overlap `src`'s buffer). */
export function copyTo(
  rt: GpuRuntime,
  op: string,
  dst: StridedOperand,
  dstDtype: DeviceDType,
  src: View,
  srcDtype: DeviceDType,
): void {
  const as = wgslType(srcDtype);
  run(
    rt,
    op,
    `copy:${srcDtype}:${dstDtype}`,
    [{ name: 'x', dtype: srcDtype, as }],
    [src],
    dst,
    dstDtype,
    src.shape,
    'x',
    as,
  );
}

/** `size` elements of `value`. */
export function fill(rt: GpuRuntime, dtype: DeviceDType, size: number, value: number): GpuData {
  if (value === 0 && !Object.is(value, -0)) return rt.allocate(dtype, size);
  const out = rt.output(dtype, size);
  const at = extraParamIndex(1);
  const read = dtype === 'int32' ? `bitcast<i32>(P[${at}u])` : `bitcast<f32>(P[${at}u])`;
  const kernel = rt.kernel(`fill:${dtype}`, ['write'], () =>
    source([], dtype, read, dtype === 'int32' ? 'i32' : 'f32'),
  );
  launchStrided(rt, 'fill', kernel, [size], [{ data: out, offset: 0, strides: [1] }], (p) => {
    if (dtype === 'int32') p.i(toInt32(value));
    else p.f(value);
  });
  return out;
}

/** ToInt32, as an Int32Array store. */
function toInt32(v: number): number {
  return Number.isFinite(v) ? Math.trunc(v) | 0 : 0;
}

function sizeOfShape(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
