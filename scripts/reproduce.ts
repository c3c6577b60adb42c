// npm run reproduce [-- --quick] [--out dir] [--seeds 0,1,2]
//
// The paper's claims as one command: SimCLR, SimCLR + full EMA, SimCLR + projector-only EMA,
// MoCo v2, and the partial-EMA sweep (first-k: stem, stem..layer1, …; last-k: layer4+projector,
// layer3..projector, …) on Fashion-MNIST with a width-0.25 ResNet-18 on CPU, every configuration
// under the same seeds, data order and step budget. Per run: kNN and linear-probe accuracy,
// ms per step, key-branch ms per step, and per-part gradient statistics (design §5).
//
// Results go to <out>/results.jsonl, one line per (configuration, seed), and are reused when the
// command runs again: an interrupted run resumes from its own checkpoint, finished ones are
// skipped. The table is printed and <out>/report.html written at the end.
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';

import { GradMonitor, info, setNumThreads, PART_NAMES } from '../lib';
import type { EmaParts, PartGradStats, StepEvent } from '../lib';
import { barChart, escapeHtml, lineChart } from '../lib/analysis/report';
import { evaluateRepresentation, openDataset, pretrain, seededSubset } from '../lib/train/run';

interface Variant {
  id: string;
  label: string;
  method: 'simclr' | 'moco';
  ema: EmaParts;
  group: 'method' | 'first-k' | 'last-k';
}

const BACKBONE = ['stem', 'layer1', 'layer2', 'layer3', 'layer4'] as const;

const VARIANTS: Variant[] = [
  { id: 'simclr', label: 'SimCLR', method: 'simclr', ema: 'none', group: 'method' },
  { id: 'simclr-full', label: 'SimCLR + full EMA', method: 'simclr', ema: 'full', group: 'method' },
  { id: 'simclr-projector', label: 'SimCLR + projector-only EMA (last-1)', method: 'simclr', ema: 'projector', group: 'method' },
  { id: 'moco', label: 'MoCo v2 (queue, full EMA)', method: 'moco', ema: 'full', group: 'method' },
  // First-k: EMA on the k parts nearest the input.
  ...[1, 2, 3, 4, 5].map((k): Variant => ({
    id: `first-${k}`,
    label: `first-${k}: ${BACKBONE.slice(0, k).join('+')}`,
    method: 'simclr',
    ema: BACKBONE.slice(0, k),
    group: 'first-k',
  })),
  // Last-k: EMA on the k parts nearest the loss (last-1 is projector-only, last-6 is full).
  ...[2, 3, 4, 5].map((k): Variant => ({
    id: `last-${k}`,
    label: `last-${k}: ${[...BACKBONE.slice(6 - k), 'projector'].join('+')}`,
    method: 'simclr',
    ema: [...BACKBONE.slice(6 - k), 'projector'],
    group: 'last-k',
  })),
];

interface Budget {
  trainSubset: number;
  evalTrain: number;
  evalTest: number;
  steps: number;
  batchSize: number;
  seeds: number[];
  window: number;
}

const MODES: Record<'quick' | 'full', Budget> = {
  // ≈ 10 minutes here: one seed, a few steps per configuration: checks the pipeline end to end.
  quick: { trainSubset: 2048, evalTrain: 2000, evalTest: 1000, steps: 12, batchSize: 64, seeds: [0], window: 10 },
  // A few hours here, in the background; resumable.
  full: { trainSubset: 20000, evalTrain: 10000, evalTest: 2000, steps: 300, batchSize: 128, seeds: [0, 1, 2], window: 50 },
};

interface RunResult {
  variant: string;
  seed: number;
  mode: string;
  steps: number;
  knnTop1: number;
  linearTop1: number | null;
  pixelsKnnTop1: number | null;
  msPerStep: number;
  keyBranchMsPerStep: number;
  forwardMsPerStep: number;
  finalLoss: number;
  grad: PartGradStats[];
  /** Windowed CV per part every `window` steps: [step, cv per part]. */
  cvOverTraining: Array<[number, (number | null)[]]>;
  resumed: boolean;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
function std(xs: number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}
function pm(xs: number[], scale = 100, digits = 1): string {
  if (xs.length === 0) return '-';
  const s = std(xs);
  return `${(mean(xs) * scale).toFixed(digits)}${Number.isFinite(s) ? ` ± ${(s * scale).toFixed(digits)}` : ''}`;
}

function readResults(file: string): RunResult[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RunResult);
}

async function runOne(v: Variant, seed: number, mode: string, b: Budget, outDir: string, evalTrain: Awaited<ReturnType<typeof openDataset>>, evalTest: Awaited<ReturnType<typeof openDataset>>): Promise<RunResult> {
  const monitor = new GradMonitor(b.window);
  const times: { total: number[]; key: number[]; forward: number[] } = { total: [], key: [], forward: [] };
  const cvOverTraining: RunResult['cvOverTraining'] = [];
  let lastLoss = NaN;
  const runDir = path.join(outDir, 'runs', `${v.id}-seed${seed}`);
  const onStep = (e: StepEvent) => {
    monitor.push(e);
    lastLoss = e.loss;
    const ms = Object.values(e.ms).reduce((a, x) => a + x, 0);
    if (e.step > 1) {
      // The first step of a process pays one-off allocation costs.
      times.total.push(ms);
      times.key.push(e.ms.keyBranch);
      times.forward.push(e.ms.forward);
    }
    if (e.step % b.window === 0) cvOverTraining.push([e.step, monitor.summary().map((s) => (Number.isFinite(s.cv) ? s.cv : null))]);
  };
  const r = await pretrain({
    dataset: 'fashion-mnist',
    method: v.method,
    ema: v.ema,
    subset: b.trainSubset,
    steps: b.steps,
    batchSize: b.batchSize,
    seed,
    outDir: runDir,
    checkpointEvery: Math.max(10, Math.floor(b.steps / 6)),
    resume: true,
    progress: 'none',
    model: { gradMonitor: { enabled: true } },
    onStep,
  });
  try {
    const ev = await evaluateRepresentation(r.model, evalTrain, evalTest, { pixels: false });
    return {
      variant: v.id,
      seed,
      mode,
      steps: r.fit.steps,
      knnTop1: ev.learned.knn.top1,
      linearTop1: ev.learned.linear?.testAccuracy ?? null,
      pixelsKnnTop1: null,
      msPerStep: times.total.length ? mean(times.total) : NaN,
      keyBranchMsPerStep: times.key.length ? mean(times.key) : NaN,
      forwardMsPerStep: times.forward.length ? mean(times.forward) : NaN,
      finalLoss: lastLoss,
      grad: monitor.summary(),
      cvOverTraining,
      resumed: r.fit.resumedFrom !== undefined,
    };
  } finally {
    r.dispose();
  }
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

function renderTable(results: RunResult[]): string {
  const head = ['configuration', 'seeds', 'kNN top-1 %', 'linear top-1 %', 'ms/step', 'key ms/step', ...PART_NAMES.map((p) => `CV ${p}`)];
  const rows = VARIANTS.filter((v) => results.some((r) => r.variant === v.id)).map((v) => {
    const rs = results.filter((r) => r.variant === v.id);
    return [
      v.label,
      String(rs.length),
      pm(rs.map((r) => r.knnTop1)),
      pm(rs.map((r) => r.linearTop1).filter((x): x is number => x !== null)),
      mean(rs.map((r) => r.msPerStep)).toFixed(0),
      mean(rs.map((r) => r.keyBranchMsPerStep)).toFixed(1),
      ...PART_NAMES.map((_, b) => mean(rs.map((r) => r.grad[b].cv)).toFixed(3)),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function renderReport(results: RunResult[], meta: Record<string, string>, table: string): string {
  const present = VARIANTS.filter((v) => results.some((r) => r.variant === v.id));
  const acc = barChart(
    'Accuracy by EMA configuration (mean over seeds)',
    present.map((v) => {
      const rs = results.filter((r) => r.variant === v.id);
      const lin = rs.map((r) => r.linearTop1).filter((x): x is number => x !== null);
      return {
        label: v.id,
        bars: [
          { name: 'kNN', value: mean(rs.map((r) => r.knnTop1)), color: '#1f77b4' },
          ...(lin.length ? [{ name: 'linear', value: mean(lin), color: '#ff7f0e' }] : []),
        ],
      };
    }),
  );
  const maxMs = Math.max(...present.map((v) => mean(results.filter((r) => r.variant === v.id).map((r) => r.msPerStep))));
  const time = barChart(
    `Step time by configuration (fraction of the slowest, ${maxMs.toFixed(0)} ms)`,
    present.map((v) => {
      const rs = results.filter((r) => r.variant === v.id);
      return {
        label: v.id,
        bars: [
          { name: 'step', value: mean(rs.map((r) => r.msPerStep)) / maxMs, color: '#7f7f7f' },
          { name: 'key branch', value: mean(rs.map((r) => r.keyBranchMsPerStep)) / maxMs, color: '#d62728' },
        ],
      };
    }),
  );
  // Gradient CV by part over training, for the momentum-free baseline and projector-only EMA.
  const cvCharts = ['simclr', 'simclr-projector', 'simclr-full']
    .filter((id) => results.some((r) => r.variant === id))
    .map((id) => {
      const r = results.find((x) => x.variant === id && x.seed === Math.min(...results.filter((y) => y.variant === id).map((y) => y.seed)))!;
      return lineChart(
        `Gradient CV by part over training: ${id} (seed ${r.seed}, window ${meta.window})`,
        'optimizer step',
        PART_NAMES.map((p, b) => ({ name: p, color: COLORS[b], points: r.cvOverTraining.filter(([, cv]) => cv[b] !== null).map(([s, cv]) => [s, cv[b]!] as const) })),
      );
    });
  const facts = Object.entries(meta)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>momentum-ssl: reproduce</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}pre{font-size:11px;overflow-x:auto}svg{display:block;margin:1em 0;font-size:11px}svg .t{font-size:13px;font-weight:600}svg .s{font-size:10px;fill:#555}svg .g{stroke:#e5e5e5}svg .f{fill:none;stroke:#999}</style>
</head><body>
<h1>Momentum encoders: pros and cons, reproduced on CPU</h1>
<table><tbody>${facts}</tbody></table>
<h2>Results</h2><pre>${escapeHtml(table)}</pre>
${acc}
${time}
<h2>Gradient stability</h2>
${cvCharts.join('\n')}
</body></html>
`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      seeds: { type: 'string' },
      only: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  const mode = values.quick ? 'quick' : 'full';
  const budget: Budget = { ...MODES[mode] };
  if (values.seeds) budget.seeds = values.seeds.split(',').map((s) => Number(s.trim()));
  if (budget.seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error('--seeds must be a comma-separated list of integers >= 0');
  const variants = values.only ? VARIANTS.filter((v) => values.only!.split(',').includes(v.id)) : VARIANTS;
  if (variants.length === 0) throw new Error(`--only matched no configuration; known: ${VARIANTS.map((v) => v.id).join(', ')}`);
  if (values.threads) setNumThreads(Number(values.threads));
  const outDir = path.resolve(values.out ?? path.join('runs', `reproduce-${mode}`));
  fs.mkdirSync(outDir, { recursive: true });
  const resultsFile = path.join(outDir, 'results.jsonl');
  const done = readResults(resultsFile).filter((r) => r.mode === mode);

  const test = await openDataset('fashion-mnist', 'test');
  const fullTrain = await openDataset('fashion-mnist', 'train');
  const evalTrain = fullTrain.subset(seededSubset(fullTrain.length, budget.evalTrain, 12345));
  const evalTest = test.subset(seededSubset(test.length, budget.evalTest, 54321));
  fullTrain.dispose();
  test.dispose();

  const t0 = Date.now();
  const total = variants.length * budget.seeds.length;
  let i = 0;
  for (const seed of budget.seeds) {
    for (const v of variants) {
      i++;
      if (done.some((r) => r.variant === v.id && r.seed === seed)) continue;
      const started = Date.now();
      const r = await runOne(v, seed, mode, budget, outDir, evalTrain, evalTest);
      fs.appendFileSync(resultsFile, JSON.stringify(r) + '\n');
      done.push(r);
      console.log(`[${i}/${total}] ${v.id} seed ${seed}: kNN ${(100 * r.knnTop1).toFixed(1)}% linear ${r.linearTop1 === null ? '-' : (100 * r.linearTop1).toFixed(1) + '%'} ${r.msPerStep.toFixed(0)} ms/step (key ${r.keyBranchMsPerStep.toFixed(1)} ms) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
  }
  evalTrain.dispose();
  evalTest.dispose();

  const results = done.filter((r) => variants.some((v) => v.id === r.variant) && budget.seeds.includes(r.seed));
  const table = renderTable(results);
  console.log(`\n${table}\n`);
  const rt = info();
  const meta: Record<string, string> = {
    command: `npm run reproduce${mode === 'quick' ? ' -- --quick' : ''}`,
    mode,
    'data': `Fashion-MNIST: pretrain on a seeded subset of ${budget.trainSubset}, evaluate on ${budget.evalTrain} train / ${budget.evalTest} test`,
    model: 'ResNet-18, width 0.25, CIFAR stem, projector 512-128',
    budget: `${budget.steps} steps x batch ${budget.batchSize}, seeds ${budget.seeds.join(',')}`,
    window: String(budget.window),
    machine: `${require('os').cpus()[0]?.model ?? 'cpu'}, ${require('os').cpus().length} cores, LibTorch ${rt.torchVersion}, ${rt.numThreads} threads`,
    'wall time of this invocation': `${((Date.now() - t0) / 60000).toFixed(1)} min`,
  };
  const reportPath = path.join(outDir, 'report.html');
  fs.writeFileSync(reportPath + '.tmp', renderReport(results, meta, table));
  fs.renameSync(reportPath + '.tmp', reportPath);
  fs.writeFileSync(path.join(outDir, 'summary.json'), JSON.stringify({ meta, variants: VARIANTS, results }, null, 2));
  console.log(`report: ${reportPath}`);
}

main().catch((e) => {
  console.error(`reproduce: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
