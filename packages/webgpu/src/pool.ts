/**
 * A pool of GPU buffers in size buckets. Creating buffers is slow and a training step makes
 * the same sizes again and again, so released buffers wait here for the next request of their
 * bucket. All commands run in queue order, so a buffer released while commands that use it
 * are still being recorded may serve the next kernel of the same batch; only writes from the
 * host (`queue.writeBuffer`) must wait until those commands are submitted, which is what
 * `takeSettled` is for.
 */

/** GPUBufferUsage flags (numeric, so that Node needs no globals). */
export const Usage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  QUERY_RESOLVE: 0x0200,
} as const;

/** Usage of every pooled storage buffer. */
export const STORAGE_USAGE = Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST;

/** Smallest buffer handed out, in bytes. */
const MIN_BYTES = 256;

/**
 * The bucket a request falls in: the next of 2^k, 1.25 * 2^k, 1.5 * 2^k, 1.75 * 2^k, so at
 * most a quarter is wasted, rounded to 256 bytes.
 */
export function bucketSize(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const size = Math.ceil((pow * f) / MIN_BYTES) * MIN_BYTES;
    if (size >= bytes) return size;
  }
  return pow * 2;
}

/** Counts of what the pool holds. */
export interface PoolStats {
  /** Bytes of buffers handed out and not yet released. */
  readonly bytesInUse: number;
  /** Buffers handed out and not yet released. */
  readonly buffers: number;
  /** Bytes of released buffers kept for reuse. */
  readonly bytesPooled: number;
  /** Buffers kept for reuse. */
  readonly pooled: number;
  /** Buffers created so far (reuse keeps this low). */
  readonly created: number;
}

/** Bucketed storage buffers with reuse in queue order. */
export class BufferPool {
  /** Released before the last submit: safe for anything. */
  private readonly settled = new Map<number, GPUBuffer[]>();
  /** Released while commands using them may still be unsubmitted: safe for kernels only. */
  private readonly recent = new Map<number, GPUBuffer[]>();
  private inUseBytes = 0;
  private inUse = 0;
  private pooledBytes = 0;
  private pooledCount = 0;
  private createdCount = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Pooled bytes above which released buffers are destroyed instead of kept. */
    private readonly maxPooledBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** A buffer of at least `bytes` for a kernel output (may be one released in this batch). */
  take(bytes: number): GPUBuffer {
    const size = bucketSize(bytes);
    const buf = this.pop(this.recent, size) ?? this.pop(this.settled, size) ?? this.create(size);
    this.inUseBytes += buf.size;
    this.inUse++;
    return buf;
  }

  /** A buffer of at least `bytes` that the host may write now (no unsubmitted command uses it). */
  takeSettled(bytes: number): GPUBuffer {
    const size = bucketSize(bytes);
    const buf = this.pop(this.settled, size) ?? this.create(size);
    this.inUseBytes += buf.size;
    this.inUse++;
    return buf;
  }

  /** Gives a buffer back; it may be handed out again for commands recorded after this call. */
  release(buf: GPUBuffer): void {
    this.inUseBytes -= buf.size;
    this.inUse--;
    const list = this.recent.get(buf.size);
    if (list) list.push(buf);
    else this.recent.set(buf.size, [buf]);
    this.pooledBytes += buf.size;
    this.pooledCount++;
  }

  /** Called after a submit: everything released so far is now settled. */
  submitted(): void {
    for (const [size, list] of this.recent) {
      const to = this.settled.get(size);
      if (to) to.push(...list);
      else this.settled.set(size, list);
    }
    this.recent.clear();
    // Over the cap, the largest settled buffers go back to the driver (destroying one that
    // unsubmitted commands use would fail their submit, hence only here).
    if (this.pooledBytes > this.maxPooledBytes) {
      const sizes = [...this.settled.keys()].sort((a, b) => b - a);
      for (const size of sizes) {
        const list = this.settled.get(size) as GPUBuffer[];
        while (list.length > 0 && this.pooledBytes > this.maxPooledBytes) {
          const b = list.pop() as GPUBuffer;
          this.pooledBytes -= b.size;
          this.pooledCount--;
          b.destroy();
        }
      }
    }
  }

  /** Destroys the settled pooled buffers (GPU memory returns to the driver). */
  trim(): void {
    for (const list of this.settled.values()) {
      for (const b of list) {
        this.pooledBytes -= b.size;
        this.pooledCount--;
        b.destroy();
      }
    }
    this.settled.clear();
  }

  /** What the pool holds now. */
  stats(): PoolStats {
    return {
      bytesInUse: this.inUseBytes,
      buffers: this.inUse,
      bytesPooled: this.pooledBytes,
      pooled: this.pooledCount,
      created: this.createdCount,
    };
  }

  private pop(from: Map<number, GPUBuffer[]>, size: number): GPUBuffer | undefined {
    const list = from.get(size);
    const buf = list?.pop();
    if (buf) {
      this.pooledBytes -= buf.size;
      this.pooledCount--;
    }
    return buf;
  }

  private create(size: number): GPUBuffer {
    this.createdCount++;
    return this.device.createBuffer({ size, usage: STORAGE_USAGE });
  }
}
