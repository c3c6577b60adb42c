#!/usr/bin/env bash
# GPU check for a machine with pip torch (CUDA) and maybe no Node: builds native/core and its C++
# tests against pip torch's LibTorch (CMake MSSL_CORE_ONLY), then runs
#   1. the CUDA EMA kernel test (equal to the per-parameter reference, every dtype),
#   2. one training step per EMA configuration on the device (NCHW and channels-last), the
#      fused EMA inside the step checked against the per-parameter formula,
#   3. the EMA's GB/s against a device copy's and a += b's.
# Without a GPU the same script runs the CPU path (MSSL_DEVICE=cpu, or no CUDA found).
#
#   scripts/dev/cuda-check.sh                 # PYTHON=python3, build dir build-cuda-check
#   PYTHON=/path/python MSSL_JOBS=8 scripts/dev/cuda-check.sh
#   MSSL_DEVICE=cpu PYTHON=/usr/bin/python3 scripts/dev/cuda-check.sh   # what CI runs without a GPU
# Needs: cmake >= 3.18, a C++17 compiler, nvcc matching torch.version.cuda for the .cu kernel.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
build=${MSSL_CUDA_CHECK_BUILD_DIR:-build-cuda-check}
jobs=${MSSL_JOBS:-$(nproc)}
start=$(date +%s)

eval "$("$PYTHON" - <<'PY'
import os, platform, torch
prefix = os.path.dirname(torch.__file__)
lib = os.path.join(prefix, 'lib')
torch_dir = os.path.join(torch.utils.cmake_prefix_path, 'Torch')
if not os.path.exists(os.path.join(torch_dir, 'TorchConfig.cmake')):
    # Debian's python3-torch ships no CMake files; its LibTorch is libtorch-dev's.
    arch = platform.machine() + '-linux-gnu'
    torch_dir, prefix, lib = f'/usr/lib/{arch}/cmake/Torch', '/usr', f'/usr/lib/{arch}'
cuda = 1 if (torch.version.cuda and torch.cuda.is_available()) else 0
print(f'TORCH_PREFIX={prefix!r}')
print(f'TORCH_LIB={lib!r}')
print(f'TORCH_DIR={torch_dir!r}')
print(f'TORCH_VERSION={torch.__version__!r}')
print(f'TORCH_CUDA={cuda}')
print(f'TORCH_CUDA_BUILT={1 if torch.version.cuda else 0}')
print(f'TORCH_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}')
print(f'TORCH_GPU={torch.cuda.get_device_name(0) if cuda else "none"!r}')
PY
)"
echo "cuda-check: torch $TORCH_VERSION at $TORCH_PREFIX (CUDA built: $TORCH_CUDA_BUILT, GPU: $TORCH_GPU, cxx11abi $TORCH_ABI)"
device=${MSSL_DEVICE:-$([ "$TORCH_CUDA" = 1 ] && echo cuda || echo cpu)}
# The .cu kernel is compiled when this LibTorch has CUDA (torch_cuda present); a CPU-only run of a
# CUDA torch still builds it, so a broken kernel fails the build here.
has_cuda_lib=$([ -e "$TORCH_LIB/libtorch_cuda.so" ] && echo 1 || echo 0)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMSSL_CORE_ONLY=ON -DMSSL_BUILD_CORE_TESTS=ON \
  -DMSSL_TORCH_torchDir="$TORCH_DIR" -DMSSL_TORCH_prefix="$TORCH_PREFIX" -DMSSL_TORCH_libDir="$TORCH_LIB" \
  -DMSSL_TORCH_cuda="$has_cuda_lib" -DMSSL_TORCH_cxx11abi="$TORCH_ABI" -DMSSL_TORCH_version="$TORCH_VERSION" \
  "${launcher[@]}" >/dev/null
cmake --build "$build" --target mssl_core_tests mssl_ema_bandwidth -j "$jobs"
echo "cuda-check: built in $(( $(date +%s) - start )) s; device $device"

export MSSL_DEVICE=$device OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
tests="$build/mssl_core_tests"
fail=0
if [ "$device" = cuda ]; then
  "$tests" ema_cuda_fused_matches_reference | tee "$build/cuda-ema.log" || fail=1
  grep -q "skipped" "$build/cuda-ema.log" && { echo "cuda-check: CUDA EMA test was skipped (no device?)"; fail=1; }
else
  "$tests" ema_fused_matches_reference || fail=1
fi
"$tests" device_step_per_ema_configuration || fail=1
"$build/mssl_ema_bandwidth" "$device" || fail=1
echo "cuda-check: $([ $fail = 0 ] && echo PASS || echo FAIL) in $(( $(date +%s) - start )) s (device $device)"
exit $fail
