#!/usr/bin/env bash
# Builds and runs the native/core C++ tests (no Node addon needed). Usage: core-tests.sh [filter]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${MSSL_CORE_BUILD_DIR:-build-core}
if [ ! -f "$build/CMakeCache.txt" ]; then
  launcher=""
  command -v ccache >/dev/null && launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
  cmake -S . -B "$build" -G "Unix Makefiles" -DMSSL_BUILD_CORE_TESTS=ON -DCMAKE_BUILD_TYPE=Release $launcher >/dev/null
fi
cmake --build "$build" --target mssl_core_tests -j "${MSSL_JOBS:-2}"
"$build/mssl_core_tests" "$@"
