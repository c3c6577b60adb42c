// npm run reproduce [-- --quick | --long] [--out dir] [--seeds 0,1,2] [--only id,…] [--threads n] [--jobs n] [--report-only]
//
// The paper's claims as one command: SimCLR, SimCLR + full EMA, SimCLR + projector-only EMA,
// MoCo v2, and the partial-EMA sweep (first-k: stem, stem..layer1, …; last-k: layer4+projector,
// layer3..projector, …) on Fashion-MNIST with a width-0.25 ResNet-18 on CPU, every configuration
// under the same seeds, data order and step budget. Per run: kNN and linear-probe accuracy,
// ms per step, key-branch ms per step, and per-part gradient statistics (design §5).
//
// Results go to <out>/results.jsonl, one line per (configuration, seed), and are reused when the
// command runs again: an interrupted run resumes from its own checkpoint, finished ones are
// skipped (so running it again after a finished run only re-renders; --report-only renders
// whatever is there without running anything). At the end: the table and
// the claims (claims.ts) are printed, and <out>/report.html, summary.json and claims.md written.
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';

import { GradMonitor, info, setNumThreads } from '../../lib';
import type { StepEvent, Tensor } from '../../lib';
import { mean } from '../../lib/analysis/stats';
import { openDataset, seededSubset } from '../../lib/data/open';
import { evaluateRepresentation } from '../../lib/eval/representation';
import { pretrain } from '../../lib/train/pretrain';
import { evaluateClaims, renderClaimsMarkdown } from './claims';
import { LONG_CLAIMS } from './longClaims';
import { renderReport, renderTable } from './report';
import { stepMean } from './timing';
import { Budget, LONG_SIZING, ModeName, MODES, runOrder, RunResult, seedsOf, Variant, VARIANTS } from './variants';

function readResults(file: string): RunResult[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((line, i) => ({ line, n: i + 1 }))
    .filter(({ line }) => line.trim() !== '')
    .map(({ line, n }) => {
      try {
        return JSON.parse(line) as RunResult;
      } catch {
        // A line cut off by a killed process: say where, rather than lose every other result.
        throw new Error(`${file}: line ${n} is not valid JSON (a run cut off while writing?); delete that line and run again`);
      }
    });
}

/** Rounds to 6 significant digits: the result lines carry many statistics, none needs more. */
const sig = (x: number | null): number | null => (x === null || !Number.isFinite(x) ? null : Number(x.toPrecision(6)));

interface MetricsLine {
  type: string;
  step: number;
  gradRms?: (number | null)[];
  gradBlocks?: StepEvent['gradBlocks'];
  cosine?: (number | null)[];
  blocks?: { names: string[]; cosine: (number | null)[] };
}

/**
 * The gradient statistics of a run from its metrics log, which holds every step exactly once
 * even across resumes (the Trainer drops the lines after the checkpoint it resumes from), so
 * they do not depend on where the run was interrupted.
 */
function gradientRecord(metricsFile: string, window: number): Pick<RunResult, 'grad' | 'cvOverTraining' | 'gradBlocks' | 'gradOverTraining' | 'probes'> {
  const monitor = new GradMonitor(window);
  const cvOverTraining: RunResult['cvOverTraining'] = [];
  const gradOverTraining: NonNullable<RunResult['gradOverTraining']> = [];
  const probes: NonNullable<RunResult['probes']> = [];
  const lines = fs.readFileSync(metricsFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
  for (const line of lines) {
    const m = JSON.parse(line) as MetricsLine;
    if (m.type === 'step' && m.gradRms) {
      monitor.push({ gradRms: m.gradRms, gradBlocks: m.gradBlocks ?? null });
      if (m.step % window === 0) {
        const parts = monitor.summary();
        const blocks = monitor.blockSummary();
        cvOverTraining.push([m.step, parts.map((x) => sig(x.cv))]);
        gradOverTraining.push({
          step: m.step,
          blockStd: blocks.map((x) => sig(x.stdNorm)),
          blockCv: blocks.map((x) => sig(x.cvNorm)),
          blockRelChange: blocks.map((x) => sig(x.meanRelChange)),
          partRelChange: parts.map((x) => sig(x.meanRelChange)),
        });
      }
    } else if (m.type === 'probe' && m.cosine) {
      monitor.pushProbe({ cosine: m.cosine, ...(m.blocks ? { blocks: { names: m.blocks.names, rms: [], cosine: m.blocks.cosine } } : {}) });
      probes.push({ step: m.step, part: m.cosine.map(sig), block: (m.blocks?.cosine ?? []).map(sig) });
    }
  }
  return { grad: monitor.summary(), cvOverTraining, gradBlocks: monitor.blockSummary(), gradOverTraining, probes };
}

interface EvalSets {
  train: Awaited<ReturnType<typeof openDataset>>;
  test: Awaited<ReturnType<typeof openDataset>>;
  /** The fixed probe batch (uint8), or undefined without probes. */
  probe?: Tensor;
}

async function runOne(v: Variant, seed: number, mode: string, b: Budget, outDir: string, sets: EvalSets, commit: string): Promise<RunResult> {
  const started = Date.now();
  const times: { total: number[]; key: number[]; forward: number[] } = { total: [], key: [], forward: [] };
  let lastLoss = NaN;
  // The budget is in the name so a checkpoint is only ever resumed by the same budget.
  const runDir = path.join(outDir, 'runs', `${v.id}-seed${seed}-${b.steps}x${b.batchSize}`);
  const onStep = (e: StepEvent) => {
    lastLoss = e.loss;
    const ms = Object.values(e.ms).reduce((a, x) => a + x, 0);
    if (e.step > 1) {
      // The first step of a process pays one-off allocation costs.
      times.total.push(ms);
      times.key.push(e.ms.keyBranch);
      times.forward.push(e.ms.forward);
    }
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
    ...(sets.probe && b.probeEvery > 0 ? { probe: { images: sets.probe, every: b.probeEvery } } : {}),
    onStep,
  });
  try {
    const grads = gradientRecord(r.paths.metrics!, b.window);
    const ev = await evaluateRepresentation(r.model, sets.train, sets.test, { pixels: false });
    return {
      variant: v.id,
      seed,
      mode,
      steps: r.fit.steps,
      knnTop1: ev.learned.knn.top1,
      linearTop1: ev.learned.linear?.testAccuracy ?? null,
      pixelsKnnTop1: null,
      msPerStep: stepMean(times.total, times.total),
      keyBranchMsPerStep: stepMean(times.key, times.total),
      forwardMsPerStep: stepMean(times.forward, times.total),
      finalLoss: lastLoss,
      ...grads,
      evalMs: ev.learned.ms,
      resumed: r.fit.resumedFrom !== undefined,
      wallSeconds: (Date.now() - started) / 1000,
      commit,
    };
  } finally {
    r.dispose();
  }
}

/** Runs every (configuration, seed) not in `done`, appending each to results.jsonl; returns how many ran. */
/** "i/n" → { i, n }, or undefined. */
function parseShard(s: string | undefined): { i: number; n: number } | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (!m || Number(m[1]) >= Number(m[2])) throw new Error(`--shard must be i/n with 0 <= i < n, got '${s}'`);
  return { i: Number(m[1]), n: Number(m[2]) };
}

/** This script again with `args`, its output prefixed with the shard; rejects on failure. */
function runShard(args: string[]): Promise<void> {
  const tag = args[args.indexOf('--shard') + 1];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, __filename, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]] as const) {
      let rest = '';
      from.on('data', (d: Buffer) => {
        const lines = (rest + d.toString()).split('\n');
        rest = lines.pop()!;
        for (const l of lines) to.write(`[shard ${tag}] ${l}\n`);
      });
    }
    child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`shard ${tag} exited with ${code ?? signal}`))));
  });
}

/** One result per (configuration, seed): the last line written wins. */
function latest(results: RunResult[]): RunResult[] {
  const byKey = new Map<string, RunResult>();
  for (const r of results) byKey.set(`${r.variant}\u0000${r.seed}`, r);
  return [...byKey.values()];
}

async function runMissing(variants: Variant[], mode: string, budget: Budget, outDir: string, done: RunResult[], commit: string, afterRun: (executed: number) => Promise<void>, shard?: { i: number; n: number }): Promise<number> {
  const test = await openDataset('fashion-mnist', 'test');
  const fullTrain = await openDataset('fashion-mnist', 'train');
  const pick = (d: typeof test, n: number, seed: number) => (n > 0 && n < d.length ? d.subset(seededSubset(d.length, n, seed)) : d);
  const sets: EvalSets = { train: pick(fullTrain, budget.evalTrain, 12345), test: pick(test, budget.evalTest, 54321) };
  // One fixed probe batch of training images for every run (its views are fixed natively).
  if (budget.probeEvery > 0) sets.probe = fullTrain.batch(seededSubset(fullTrain.length, budget.batchSize, 777)).images;
  if (sets.train !== fullTrain) fullTrain.dispose();
  if (sets.test !== test) test.dispose();

  let executed = 0;
  const order = runOrder(variants, budget);
  try {
    for (const [i, { v, seed }] of order.entries()) {
      if (shard && i % shard.n !== shard.i) continue;
      if (done.some((r) => r.variant === v.id && r.seed === seed)) continue;
      const r = await runOne(v, seed, mode, budget, outDir, sets, commit);
      fs.appendFileSync(path.join(outDir, 'results.jsonl'), JSON.stringify(r) + '\n');
      done.push(r);
      executed++;
      // A failed render must not stop a long run: the results line is already written.
      await afterRun(executed).catch((e) => console.error(`reproduce: rendering after ${v.id} seed ${seed} failed: ${e instanceof Error ? e.message : String(e)}`));
      console.log(`[${i + 1}/${order.length}] ${v.id} seed ${seed}: kNN ${(100 * r.knnTop1).toFixed(1)}% linear ${r.linearTop1 === null ? '-' : (100 * r.linearTop1).toFixed(1) + '%'} ${r.msPerStep.toFixed(0)} ms/step (key ${r.keyBranchMsPerStep.toFixed(1)} ms) eval ${((r.evalMs!.features + r.evalMs!.knn + r.evalMs!.linear) / 1000).toFixed(0)} s, in ${r.wallSeconds!.toFixed(0)} s`);
    }
  } finally {
    sets.train.dispose();
    sets.test.dispose();
    sets.probe?.dispose();
  }
  return executed;
}

function gitCommit(): string {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${out} (with uncommitted changes)` : out;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function runMeta(mode: ModeName, budget: Budget, commit: string, variants: readonly Variant[]): Record<string, string> {
  const rt = info();
  const split = (n: number, what: string) => (n > 0 ? `a seeded subset of ${n} ${what}` : `the whole ${what} split`);
  const seeds = variants.map((v) => `${v.id} ${seedsOf(budget, v.id).join(',')}`).join('; ');
  // --report-only renders runs another command made (into a scratch --out, often): record that command.
  const argv = process.argv.slice(2);
  const reportOnly = argv.includes('--report-only');
  const runArgs = reportOnly ? argv.filter((a, i, all) => a !== '--report-only' && a !== '--out' && all[i - 1] !== '--out' && !a.startsWith('--out=')) : argv;
  const meta: Record<string, string> = {
    command: `npm run reproduce${runArgs.length > 0 ? ` -- ${runArgs.join(' ')}` : ''}`,
    mode,
    commit,
    data: `Fashion-MNIST: pretrain on ${split(budget.trainSubset, 'train')}; kNN and linear probe trained on ${split(budget.evalTrain, 'train')}, tested on ${split(budget.evalTest, 'test')}`,
    model: 'ResNet-18, width 0.25, CIFAR stem, projector 512-128',
    budget: `${budget.steps} steps x batch ${budget.batchSize}`,
    seeds,
    window: String(budget.window),
    probe: budget.probeEvery > 0 ? `every ${budget.probeEvery} steps on a fixed batch of ${budget.batchSize} train images with fixed views` : 'none',
    machine: `${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores, LibTorch ${rt.torchVersion}${reportOnly ? '' : `, ${rt.numThreads} threads`}`,
    node: process.version,
  };
  if (reportOnly) meta.rendered = `npm run reproduce -- ${argv.join(' ')}`;
  if (mode === 'long') {
    meta.sizing = LONG_SIZING;
    meta.timing = 'ms/step and wall times were measured while other jobs (C++ builds) shared the two cores: they are upper bounds, noisy run to run';
  }
  return meta;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      long: { type: 'boolean', default: false },
      // Hidden: a smaller step budget for smoke runs of a mode (its own run folders and results).
      steps: { type: 'string' },
      out: { type: 'string' },
      seeds: { type: 'string' },
      only: { type: 'string' },
      threads: { type: 'string' },
      // Runs at once, each in its own process (default 1; 2 in the long mode: two 1-thread runs side
      // by side do 1.29x the work of one 2-thread run on this 2-core machine, LONG_SIZING).
      jobs: { type: 'string' },
      // Internal (set by --jobs): this process runs the configurations with index % n == i.
      shard: { type: 'string' },
      'report-only': { type: 'boolean', default: false },
    },
  });
  if (values.quick && values.long) throw new Error('--quick and --long are different modes; pick one');
  const mode: ModeName = values.quick ? 'quick' : values.long ? 'long' : 'full';
  const budget: Budget = { ...MODES[mode] };
  if (values.steps !== undefined) {
    budget.steps = Number(values.steps);
    if (!Number.isInteger(budget.steps) || budget.steps < 2 * budget.window) throw new Error(`--steps must be an integer >= ${2 * budget.window} (two gradient windows)`);
  }
  if (values.seeds) {
    budget.seeds = values.seeds.split(',').map((s) => Number(s.trim()));
    delete budget.seedsFor; // an explicit list is every configuration's
  }
  if (budget.seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error('--seeds must be a comma-separated list of integers >= 0');
  const only = values.only?.split(',').map((id) => id.trim());
  const unknown = only?.filter((id) => !VARIANTS.some((v) => v.id === id)) ?? [];
  if (unknown.length) throw new Error(`--only: unknown configuration ${unknown.join(', ')}; known: ${VARIANTS.map((v) => v.id).join(', ')}`);
  // In the mode's own order (the long mode: SimCLR and SimSiam before MoCo v2 and BYOL).
  const ofMode = budget.variants ? budget.variants.map((id) => VARIANTS.find((v) => v.id === id)!) : VARIANTS;
  const variants = only ? ofMode.filter((v) => only.includes(v.id)) : ofMode;
  if (variants.length === 0) throw new Error(`--only: none of ${only!.join(', ')} is a configuration of the ${mode} mode (${ofMode.map((v) => v.id).join(', ')})`);
  const jobs = values.jobs !== undefined ? Number(values.jobs) : mode === 'long' ? 2 : 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error('--jobs must be an integer >= 1');
  const shard = parseShard(values.shard);
  if (jobs > 1 && !shard && !values['report-only']) {
    // The parent only starts the shards and renders at the end; each shard renders after each of its runs.
    const threads = values.threads ?? String(Math.max(1, Math.floor(os.cpus().length / jobs)));
    const args = process.argv.slice(2).filter((a, i, all) => a !== '--jobs' && all[i - 1] !== '--jobs' && !a.startsWith('--jobs=') && a !== '--threads' && all[i - 1] !== '--threads');
    await Promise.all(Array.from({ length: jobs }, (_, i) => runShard([...args, '--threads', threads, '--shard', `${i}/${jobs}`])));
  }
  if (values.threads) setNumThreads(Number(values.threads));
  const outDir = path.resolve(values.out ?? path.join('runs', `reproduce-${mode}`));
  fs.mkdirSync(outDir, { recursive: true });
  const resultsFile = path.join(outDir, 'results.jsonl');
  // Results of another budget (an older quick mode, say) are kept in the file but not reused.
  const done = readResults(resultsFile).filter((r) => r.mode === mode && r.steps === budget.steps);

  const t0 = Date.now();
  const commit = gitCommit();
  const inMode = (r: RunResult) => variants.some((v) => v.id === r.variant) && seedsOf(budget, r.variant).includes(r.seed);
  // Rendered after every finished run too, so a long run's results can be read (and committed) as they come.
  const render = async (executed: number, quiet: boolean): Promise<void> => {
    // From the file: with --jobs the other shards' runs are there too.
    const results = latest(readResults(resultsFile).filter((r) => r.mode === mode && r.steps === budget.steps)).filter(inMode);
    if (results.length === 0) throw new Error(`no ${mode}-mode results of ${budget.steps} steps in ${resultsFile} for these configurations and seeds; run without --report-only first`);
    const table = renderTable(results);
    // The long mode asks its own questions (longClaims.ts) and says 'undecided' where a test decides neither way.
    const claims = mode === 'long' ? evaluateClaims(results, LONG_CLAIMS, { undecided: true }) : evaluateClaims(results);
    const claimsMd = renderClaimsMarkdown(claims);
    if (!quiet) console.log(`\n${table}\n\n${claimsMd}\n`);
    // The commit of the code that rendered, and of the code that produced the runs (recorded per run since #16).
    const runCommits = [...new Set(results.map((r) => r.commit ?? 'unrecorded'))];
    const meta = runMeta(mode, budget, runCommits.length === 1 && runCommits[0] === commit ? commit : `${commit} (rendering); runs: ${runCommits.join(', ')}`, variants);
    const wall = results.map((r) => r.wallSeconds).filter((x): x is number => x !== undefined);
    if (wall.length) meta['run wall time (recorded runs)'] = `${(wall.reduce((a, x) => a + x, 0) / 60).toFixed(0)} min over ${wall.length} runs`;
    const n = shard?.n ?? jobs;
    if (n > 1) meta.parallel = `${n} runs at once, each its own process with ${shard ? info().numThreads : Math.max(1, Math.floor(os.cpus().length / n))} thread(s) (ms/step is per run, with the other beside it)`;
    const planned = variants.reduce((n, v) => n + seedsOf(budget, v.id).length, 0);
    meta.progress = `${results.length} of ${planned} runs`;
    if (executed) meta['this invocation'] = `${executed} runs in ${((Date.now() - t0) / 60000).toFixed(1)} min`;
    const write = (file: string, text: string) => {
      // Per-process temporary names: shards render into the same folder.
      fs.writeFileSync(`${file}.${process.pid}.tmp`, text);
      fs.renameSync(`${file}.${process.pid}.tmp`, file);
    };
    write(path.join(outDir, 'report.html'), await renderReport(results, meta, table, claims));
    write(path.join(outDir, 'summary.json'), JSON.stringify({ meta, variants: VARIANTS, claims, results }, null, 2));
    write(path.join(outDir, 'claims.md'), claimsMd + '\n');
  };
  const executed = values['report-only'] || (jobs > 1 && !shard) ? 0 : await runMissing(variants, mode, budget, outDir, done, commit, (n) => render(n, true), shard);
  if (shard) return; // the parent renders once every shard is done
  await render(executed, false);
  const reportPath = path.join(outDir, 'report.html');
  console.log(`report: ${reportPath}`);
}

main().catch((e) => {
  console.error(`reproduce: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
