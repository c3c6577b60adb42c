// The option tables shared by several commands, and the one parser: flags (node:util parseArgs)
// over a JSON/YAML --config file, then --set PATH=VALUE onto the config's `model:` section.
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import YAML from 'yaml';

import type { EmaParts } from '../config';
import { DATASET_NAMES } from '../data/open';
import { EVALUATE_DEFAULTS } from '../eval/representation';
import { Command, OptionSpec, ParsedArgs, UsageError, Values } from './command';

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'config', kind: 'string', arg: 'FILE', desc: 'read options from a JSON or YAML file (keys: the long flags, camelCase or kebab-case; `model:` holds SslConfig overrides); flags win' },
  { name: 'threads', kind: 'int', arg: 'N', desc: 'LibTorch intra-op threads (default: cores, or MOMENTUM_SSL_NUM_THREADS)' },
  { name: 'verbose', kind: 'boolean', desc: 'print stack traces on errors' },
  { name: 'help', kind: 'boolean', short: 'h', desc: 'show this help' },
];

/** The global options a command takes (commands without a config file take only these two). */
export function globalOptionsOf(cmd: Command): OptionSpec[] {
  return cmd.fewGlobals ? GLOBAL_OPTIONS.filter((o) => o.name === 'verbose' || o.name === 'help') : GLOBAL_OPTIONS;
}

export const DATA_OPTIONS: OptionSpec[] = [
  { name: 'dataset', kind: 'string', arg: 'NAME|DIR', desc: `${DATASET_NAMES.join(', ')}, or a folder of IDX files, CIFAR binaries or class sub-folders` },
  { name: 'data-dir', kind: 'string', arg: 'DIR', desc: 'folder of a named dataset (default: its standard place; required for cifar10/cifar100)' },
];

/** DATA_OPTIONS for commands that default to the dataset of the run they load. */
export const RUN_DATA_OPTIONS: OptionSpec[] = DATA_OPTIONS.map((o) => ({ ...o, desc: `${o.desc} (default: the run's)` }));

// Where eval, embed and export find the trained model.
export const CHECKPOINT_OPTIONS: OptionSpec[] = [
  { name: 'checkpoint', kind: 'string', arg: 'FILE|DIR', desc: 'checkpoint.pt of a pretrain run, or its folder (run.json must be beside it)' },
  { name: 'run-info', kind: 'string', arg: 'FILE', desc: 'run.json to rebuild the model from (default: beside the checkpoint)' },
];

/** Evaluation subsets: the kNN memory / probe training set is a subset by default (speed). */
export const EVAL_SUBSET_DEFAULTS = Object.freeze({ trainSubset: 10000, testSubset: 0 });

export const EVAL_OPTIONS: OptionSpec[] = [
  { name: 'train-subset', kind: 'int', arg: 'N', desc: `kNN memory / probe training images: a seeded subset of the train split (0 = all; default ${EVAL_SUBSET_DEFAULTS.trainSubset})` },
  { name: 'test-subset', kind: 'int', arg: 'N', desc: `test images evaluated (0 = all; default ${EVAL_SUBSET_DEFAULTS.testSubset})` },
  { name: 'k', kind: 'int', arg: 'N', desc: `kNN neighbours (default ${EVALUATE_DEFAULTS.k})` },
  { name: 'knn-temperature', kind: 'number', arg: 'T', desc: `kNN vote temperature (default ${EVALUATE_DEFAULTS.temperature})` },
  { name: 'no-linear', kind: 'boolean', desc: 'skip the linear probe' },
  { name: 'no-pixels', kind: 'boolean', desc: 'skip the raw-pixel baseline' },
  { name: 'report', kind: 'string', arg: 'FILE', desc: 'write an HTML report (plots and tables) to FILE' },
  { name: 'json', kind: 'boolean', desc: 'print the result as JSON on stdout instead of a table' },
];

export const camel = (s: string): string => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

function convert(o: OptionSpec, raw: unknown, where: string): unknown {
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

/** Sets a dotted field path in a plain object, creating intermediate objects. */
export function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
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

/** Parses a command's argv: flags over its --config file, --set onto the model section. */
export function parseCommand(spec: Command, argv: string[]): ParsedArgs {
  // A command line after `--` belongs to the command (launch runs it), not to this parser.
  const dashes = spec.acceptsRest ? argv.indexOf('--') : -1;
  const rest = dashes >= 0 ? argv.slice(dashes + 1) : undefined;
  if (dashes >= 0) argv = argv.slice(0, dashes);
  const all = [...spec.options, ...globalOptionsOf(spec)];
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
  const fileValues: Values = {};
  let model: Record<string, unknown> = {};
  if (typeof flags.config === 'string') {
    const file = flags.config;
    const data = readConfigFile(file);
    const byKey = new Map<string, OptionSpec>();
    for (const o of all) {
      if (o.name === 'config' || o.name === 'help') continue;
      byKey.set(camel(o.name), o);
      byKey.set(o.name, o);
    }
    for (const [k, v] of Object.entries(data)) {
      if (k === 'model') {
        if (!spec.acceptsModel) throw new UsageError(`config file ${file}: 'model' does not apply to ${spec.name}`);
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`config file ${file}: model must be a mapping of SslConfig fields`);
        model = v as Record<string, unknown>;
        continue;
      }
      const o = byKey.get(k);
      if (!o) {
        const known = [...(spec.acceptsModel ? ['model'] : []), ...new Set(all.filter((x) => x.name !== 'config' && x.name !== 'help').map((x) => camel(x.name)))];
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
  return { values, model: model as ParsedArgs['model'], ...(spec.acceptsRest ? { rest } : {}) };
}

/** --ema: none | full | projector | a comma list of parts. */
export function parseEma(v: unknown): EmaParts | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (s === 'none' || s === 'full' || s === 'projector') return s;
  return s.split(',').map((p) => p.trim()).filter((p) => p !== '') as unknown as EmaParts;
}
