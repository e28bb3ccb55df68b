/**
 * Finding a WebGPU device: `navigator.gpu` in a browser (or any runtime that has it), Dawn
 * through the `webgpu` package in Node. Limits are raised to the adapter's maxima and the
 * optional features the kernels use are requested when the adapter has them.
 */

/** Something that hands out adapters: `navigator.gpu`, Dawn's `create([])`, or a test double. */
export interface AdapterSource {
  requestAdapter(options?: GPURequestAdapterOptions): Promise<GPUAdapter | null>;
}

/** Options of {@link acquireDevice}. */
export interface DeviceOptions {
  /**
   * Where adapters come from (default: `navigator.gpu` when present, else the `webgpu`
   * package in Node). Injected by tests and by hosts that manage their own GPU object.
   */
  readonly adapterSource?: AdapterSource | (() => AdapterSource | Promise<AdapterSource>);
  /** `high-performance` (default) or `low-power`. */
  readonly powerPreference?: GPUPowerPreference;
  /** Use this device instead of requesting one (its adapter info is then unknown). */
  readonly device?: GPUDevice;
}

/** The adapter's description, as the bench and error messages show it. */
export interface AdapterDescription {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
}

/** A device with what was negotiated for it. */
export interface AcquiredDevice {
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  /** Optional features that were granted (`shader-f16`, `subgroups`, `timestamp-query`). */
  readonly features: ReadonlySet<string>;
}

/** The optional features the kernels can use; requested when the adapter has them. */
export const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

/** How to get a GPU where none was found; shown in {@link WebGpuUnavailableError}. */
export const INSTALL_HINT =
  'On Linux without a GPU, install the lavapipe Vulkan driver (Mesa on the CPU): on Debian ' +
  'bookworm add bookworm-backports to the apt sources and run ' +
  '`apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`; with a GPU, ' +
  'install its Vulkan (Linux), Metal (macOS) or D3D12 (Windows) driver. In a browser, use ' +
  'one with WebGPU enabled (Chrome/Edge 113+, Safari 26+, Firefox 141+ on Windows). ' +
  "Or choose the CPU: setBackend('cpu').";

/** No WebGPU adapter or device could be obtained: the message says why and what to do. */
export class WebGpuUnavailableError extends Error {
  constructor(reason: string) {
    super(`webgpu: ${reason}. ${INSTALL_HINT}`);
    this.name = 'WebGpuUnavailableError';
  }
}

/** Node's `webgpu` package installs GPUBufferUsage and friends only when asked; kernels may use them. */
function installGlobals(globals: object): void {
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(globals)) if (!(k in g)) g[k] = v;
}

/**
 * Dawn's GPU objects, kept reachable: when the object from `create()` is collected, Dawn
 * tears down its instance under the devices made from it (crashes in the driver's threads).
 */
const liveSources = new Set<AdapterSource>();

async function defaultSource(): Promise<AdapterSource> {
  const nav = (globalThis as { navigator?: { gpu?: AdapterSource } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const isNode =
    typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions
      ?.node === 'string';
  if (!isNode) {
    throw new WebGpuUnavailableError('this runtime has no navigator.gpu');
  }
  let mod: { create: (options: string[]) => AdapterSource; globals: object };
  try {
    // A variable specifier keeps browser bundlers from following the import.
    const name = 'webgpu';
    mod = (await import(/* @vite-ignore */ name)) as typeof mod;
  } catch (err) {
    throw new WebGpuUnavailableError(
      `the "webgpu" package (Dawn for Node) could not be loaded (${(err as Error).message.split('\n')[0]}); ` +
        'install it with `npm install webgpu`',
    );
  }
  installGlobals(mod.globals);
  const gpu = mod.create([]);
  liveSources.add(gpu);
  return gpu;
}

function describe(info: GPUAdapterInfo | undefined): AdapterDescription {
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
  };
}

/** Limits raised to the adapter's maxima (the defaults are far below what GPUs allow). */
function maxLimits(adapter: GPUAdapter): Record<string, number> {
  const out: Record<string, number> = {};
  const wanted = [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupSizeZ',
    'maxComputeWorkgroupsPerDimension',
    'maxBindingsPerBindGroup',
    'maxUniformBufferBindingSize',
  ];
  const limits = adapter.limits as unknown as Record<string, number>;
  // Alignments are "better" when smaller: the adapter's own values are the best.
  wanted.push('minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment');
  for (const k of wanted) {
    const v = limits[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

/**
 * Requests an adapter and a device with the adapter's maximum limits and the optional
 * features it has. Throws {@link WebGpuUnavailableError} saying why when none is found.
 */
export async function acquireDevice(options: DeviceOptions = {}): Promise<AcquiredDevice> {
  if (options.device) {
    const features = new Set<string>();
    for (const f of OPTIONAL_FEATURES) if (options.device.features.has(f)) features.add(f);
    return {
      device: options.device,
      adapter: describe((options.device as { adapterInfo?: GPUAdapterInfo }).adapterInfo),
      features,
    };
  }
  const given = options.adapterSource;
  const source = given
    ? await (typeof given === 'function' ? given() : given)
    : await defaultSource();
  let adapter: GPUAdapter | null;
  try {
    adapter = await source.requestAdapter({
      powerPreference: options.powerPreference ?? 'high-performance',
    });
  } catch (err) {
    throw new WebGpuUnavailableError(
      `requesting an adapter failed (${(err as Error).message.split('\n')[0]})`,
    );
  }
  if (!adapter) {
    throw new WebGpuUnavailableError(
      'no WebGPU adapter was found (no GPU driver with Vulkan, Metal or D3D12 support is installed, or the GPU is blocklisted)',
    );
  }
  const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredFeatures: features as GPUFeatureName[],
      requiredLimits: maxLimits(adapter),
    });
  } catch (err) {
    throw new WebGpuUnavailableError(
      `the adapter would not create a device (${(err as Error).message.split('\n')[0]})`,
    );
  }
  return { device, adapter: describe(adapter.info), features: new Set(features) };
}
