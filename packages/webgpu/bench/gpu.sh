#!/usr/bin/env bash
# Runs the WebGPU benchmark on a machine with a real GPU: checks that Vulkan sees the GPU,
# builds the packages, and runs bench/run.mjs (full repeats; pass --quick for one run each).
# Results are printed and written to bench/results/webgpu.json at the repository root.
#
#   packages/webgpu/bench/gpu.sh [--quick] [--no-cpu]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

if command -v vulkaninfo >/dev/null 2>&1; then
  echo "Vulkan devices:"
  vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverName' || true
  if vulkaninfo --summary 2>/dev/null | grep -q 'llvmpipe' && ! vulkaninfo --summary 2>/dev/null | grep -qv 'llvmpipe'; then
    echo "warning: only llvmpipe (the CPU) is visible; install the GPU's Vulkan driver for GPU numbers" >&2
  fi
fi

cd "$root"
npx turbo run build --filter=@statetune/webgpu...
cd "$root/packages/webgpu"
node bench/run.mjs "$@"
