{
  # node-gyp build of the same addon as CMakeLists.txt (cmake-js is the primary build).
  # LibTorch comes from the same resolver: scripts/find-libtorch.js. Run: npm run build:gyp.
  # The custom CUDA kernels (native/core/*.cu) are built by CMake only; a gyp build against a
  # CUDA LibTorch still links torch_cuda and runs CUDA tensors through the generic LibTorch path.
  "targets": [
    {
      "target_name": "momentum_ssl",
      "sources": ["<!@(node scripts/gyp-sources.js)"],
      "include_dirs": [
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.js --include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "_GLIBCXX_USE_CXX11_ABI=<!(node scripts/find-libtorch.js --abi)",
        "<!@(node scripts/find-libtorch.js --dist-defines)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++1y", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O3", "-Wno-unused-parameter"],
      "libraries": [
        "-L<!(node scripts/find-libtorch.js --libdir)",
        "-Wl,-rpath,<!(node scripts/find-libtorch.js --libdir)",
        "-ltorch",
        "-ltorch_cpu",
        "-lc10",
        "<!@(node scripts/gyp-sources.js --cuda-libs)"
      ]
    }
  ]
}
