/** Element types a tensor can hold. float64 exists for references and accumulations. */
export type DType = 'float32' | 'float64' | 'int32';

/** The typed array that stores each dtype on the host. */
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : Int32Array;

/** Any host array a tensor's values come back as. */
export type HostArray = Float32Array | Float64Array | Int32Array;

const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

/** Bytes per element of each dtype. */
export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = {
  float32: 4,
  float64: 8,
  int32: 4,
};

/** True for the dtypes that carry gradients. */
export function isFloat(dtype: DType): boolean {
  return dtype !== 'int32';
}

/** Checks a dtype given at a boundary (options, files). */
export function assertDType(dtype: unknown, where: string): asserts dtype is DType {
  if (!DTYPES.includes(dtype as DType)) {
    throw new TypeError(
      `${where}: unknown dtype ${JSON.stringify(dtype)}; expected one of ${DTYPES.join(', ')}`,
    );
  }
}

/** Allocates a zero-filled host array for a dtype. */
export function allocHost(dtype: DType, size: number): HostArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
  }
}

/** The dtype a host array holds. */
export function dtypeOfArray(values: HostArray): DType {
  if (values instanceof Float32Array) return 'float32';
  if (values instanceof Float64Array) return 'float64';
  return 'int32';
}

/**
 * The result dtype of a binary op, as PyTorch promotes: float64 wins, then float32;
 * two int32 stay int32. Plain JS numbers are "weak" and never widen a tensor's dtype.
 */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === 'float64' || b === 'float64') return 'float64';
  return 'float32';
}
