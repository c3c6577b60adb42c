// `momentum-ssl pretrain`: train a method on a dataset, write the run's files, optionally evaluate.
import * as fs from 'fs';
import * as path from 'path';

import { formatResultTable, readHistory, writeReport } from '../analysis/report';
import { defaultSslConfig, DeepPartial, SslConfig } from '../config';
import { isDistributedLaunch, ProcessGroup } from '../distributed/processGroup';
import type { RepresentationResult } from '../eval/representation';
import { METHODS } from '../methods/registry';
import type { MethodCliOption } from '../methods/method';
import { pretrain, PRETRAIN_DEFAULTS } from '../train/pretrain';
import type { ProgressMode } from '../train/progress';
import { Command, OptionSpec, UsageError, Values } from './command';
import { evaluateSplits } from './evaluate';
import { camel, DATA_OPTIONS, EVAL_OPTIONS, parseEma, setPath } from './options';

export const DEFAULT_OUT_DIR = 'momentum-ssl-run';

/** Every method's own flags, each once, with the method(s) it belongs to. */
function methodOptions(): { spec: OptionSpec; owners: Map<string, MethodCliOption> }[] {
  const byName = new Map<string, { spec: OptionSpec; owners: Map<string, MethodCliOption> }>();
  for (const m of Object.values(METHODS)) {
    for (const o of m.cliOptions ?? []) {
      const entry = byName.get(o.name) ?? { spec: { ...o, desc: '' }, owners: new Map() };
      entry.owners.set(m.name, o);
      byName.set(o.name, entry);
    }
  }
  for (const e of byName.values()) {
    e.spec.desc = [...e.owners].map(([method, o]) => `${method}: ${o.desc}`).join('; ');
  }
  return [...byName.values()];
}

const METHOD_OPTIONS = methodOptions();

/** The chosen method's options from its flags; a flag of another method is a usage error. */
function methodOptionValues(method: string, v: Values): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { spec, owners } of METHOD_OPTIONS) {
    const value = v[camel(spec.name)];
    if (value === undefined) continue;
    const own = owners.get(method);
    if (!own) throw new UsageError(`--${spec.name} applies to ${[...owners.keys()].join(', ')}, not to method '${method}'`);
    out[own.key] = value;
  }
  return out;
}

let cachedOptions: OptionSpec[] | null = null;

function pretrainOptions(): OptionSpec[] {
  cachedOptions ??= [
    ...DATA_OPTIONS.map((o) => (o.name === 'dataset' ? { ...o, desc: `${o.desc} (default ${PRETRAIN_DEFAULTS.dataset})` } : o)),
    { name: 'method', kind: 'string', arg: 'NAME', desc: `${Object.values(METHODS).map((m) => `${m.name}: ${m.summary}`).join('; ')} (default ${PRETRAIN_DEFAULTS.method})` },
    { name: 'ema', kind: 'string', arg: 'PARTS', desc: "EMA parts: none, full, projector, or a comma list of stem,layer1..layer4,projector (default: the method's)" },
    ...METHOD_OPTIONS.map((o) => o.spec),
    { name: 'epochs', kind: 'int', arg: 'N', desc: `epochs over the (subset of the) train split (default ${PRETRAIN_DEFAULTS.epochs})` },
    { name: 'steps', kind: 'int', arg: 'N', desc: 'optimizer-step budget instead of epochs (the LR/momentum schedules span it)' },
    { name: 'batch-size', kind: 'int', arg: 'N', desc: `images per step (default ${PRETRAIN_DEFAULTS.batchSize})` },
    { name: 'subset', kind: 'int', arg: 'N', desc: `train on a seeded random subset of N images (0 = all; default ${PRETRAIN_DEFAULTS.subset})` },
    { name: 'seed', kind: 'int', arg: 'N', desc: `seed of model init, augmentations, subset and batch order (default ${PRETRAIN_DEFAULTS.seed})` },
    { name: 'lr', kind: 'number', arg: 'X', desc: "base learning rate (optimizer.lr; default: the method's)" },
    { name: 'temperature', kind: 'number', arg: 'T', desc: "objective temperature (objective.temperature; default: the method's)" },
    { name: 'depth', kind: 'int', arg: '18|34|50', desc: `ResNet depth (backbone.depth, default ${defaultSslConfig().backbone.depth})` },
    { name: 'width', kind: 'number', arg: 'X', desc: `ResNet width multiplier (backbone.width, default ${defaultSslConfig().backbone.width})` },
    { name: 'set', kind: 'string', arg: 'PATH=VALUE', multiple: true, desc: 'override any SslConfig field, VALUE parsed as JSON if it can be (repeatable), e.g. --set optimizer.warmupSteps=10' },
    { name: 'out', kind: 'string', arg: 'DIR', desc: `output folder (default ${DEFAULT_OUT_DIR})` },
    { name: 'checkpoint-every', kind: 'int', arg: 'N', desc: 'also checkpoint every N steps (default: at the end only)' },
    { name: 'resume', kind: 'boolean', desc: 'continue from DIR/checkpoint.pt if it exists' },
    { name: 'keep-checkpoints', kind: 'int', arg: 'N', desc: `good checkpoints kept in DIR (checkpoint.pt + checkpoint.step-<N>.pt; default ${PRETRAIN_DEFAULTS.keepCheckpoints})` },
    { name: 'sync-bn', kind: 'boolean', desc: 'data parallel: BatchNorm statistics over all ranks (dataParallel.syncBatchNorm)' },
    { name: 'progress', kind: 'string', arg: 'MODE', desc: 'auto (bar on a TTY, lines otherwise), bar, lines or none', choices: ['auto', 'bar', 'lines', 'none'] },
    { name: 'eval', kind: 'boolean', desc: 'evaluate after training (kNN + linear probe vs raw pixels on the test split); writes results.json to --out' },
    ...EVAL_OPTIONS,
  ];
  return cachedOptions;
}

export const pretrainCommand: Command = {
  name: 'pretrain',
  summary: 'train a self-supervised model; writes checkpoint.pt, run.json, metrics.jsonl and backbone.pt to --out',
  usage: 'momentum-ssl pretrain [--dataset NAME|DIR] [--method NAME] [--ema PARTS] [--steps N | --epochs N] [--out DIR] [options]',
  acceptsModel: true,
  // A getter: the defaults shown come from the native core, loaded only when help or parsing needs them.
  get options(): OptionSpec[] {
    return pretrainOptions();
  },
  help: [
    'Config file (--config run.yaml), keys as the long flags; flags given on the command line win:',
    '  dataset: fashion-mnist',
    '  method: simclr',
    '  ema: projector',
    '  steps: 200',
    '  batchSize: 256',
    '  model: { optimizer: { lr: 0.5, warmupSteps: 10 }, objective: { temperature: 0.2 } }',
    '',
    'Files in --out: checkpoint.pt (full training state, atomic), run.json (the config, for eval/embed),',
    'metrics.jsonl (one JSON line per step), backbone.pt (torchvision-named state dict for Python).',
    'Ctrl-C / SIGTERM finish the current step and write a checkpoint (exit 130 / 143); --resume continues from it.',
    'One process per --out (a lock file); a divergence (NaN/Inf) stops the run naming the last good checkpoint.',
    '',
    'Data parallel: run it under `momentum-ssl launch` (or torchrun-style RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT):',
    'the ranks join one c10d group, --batch-size is per rank, rank 0 writes --out (every rank must see it to resume).',
  ],
  examples: [
    'momentum-ssl pretrain --dataset fashion-mnist --method simclr --ema projector --steps 200 --subset 10000 --eval --report report.html',
    'momentum-ssl pretrain --config run.yaml --resume',
  ],
  async run(p, io) {
    const v = p.values;
    const method = (v.method as string | undefined) ?? PRETRAIN_DEFAULTS.method;
    const model: DeepPartial<SslConfig> = JSON.parse(JSON.stringify(p.model));
    const put = (dotted: string, value: unknown) => {
      if (value !== undefined) setPath(model as Record<string, unknown>, dotted, value);
    };
    put('optimizer.lr', v.lr);
    put('objective.temperature', v.temperature);
    put('backbone.depth', v.depth);
    put('backbone.width', v.width);
    if (v.syncBn === true) put('dataParallel.syncBatchNorm', true);
    const outDir = (v.out as string | undefined) ?? DEFAULT_OUT_DIR;
    const dataset = (v.dataset as string | undefined) ?? (PRETRAIN_DEFAULTS.dataset as string);
    // SIGINT / SIGTERM: finish the step, write a checkpoint, exit 130 / 143 (128 + signal).
    const controller = new AbortController();
    let signalExit = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      const code = signal === 'SIGTERM' ? 143 : 130;
      if (controller.signal.aborted) process.exit(code);
      signalExit = code;
      io.err(`\n${signal}: stopping after the current step and writing a checkpoint (${signal === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again quits at once, without one)\n`);
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const t0 = Date.now();
    let result;
    // Started by `momentum-ssl launch` (or torchrun's variables): join the group first.
    const group = isDistributedLaunch() ? await ProcessGroup.init({}, typeof model.device === 'string' ? model.device : 'cpu') : undefined;
    try {
      result = await pretrain({
        dataset,
        dataDir: v.dataDir as string | undefined,
        method,
        ema: parseEma(v.ema),
        methodOptions: methodOptionValues(method, v),
        model,
        epochs: v.epochs as number | undefined,
        steps: v.steps as number | undefined,
        batchSize: v.batchSize as number | undefined,
        subset: v.subset as number | undefined,
        seed: v.seed as number | undefined,
        outDir,
        checkpointEvery: v.checkpointEvery as number | undefined,
        resume: v.resume === true,
        keepCheckpoints: v.keepCheckpoints as number | undefined,
        onWarning: (w) => io.err(`warning: step ${w.step}: ${w.message}\n`),
        progress: v.progress as ProgressMode | undefined,
        signal: controller.signal,
        processGroup: group,
      });
    } catch (e) {
      await group?.shutdown().catch(() => undefined);
      throw e;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    // Training is the only collective part: leave the group now, so no rank waits in the closing
    // barrier while rank 0 exports and evaluates.
    await group?.shutdown();
    if (group && !group.isMain) {
      // Rank 0 writes the run's files and reports; the others only train.
      try {
        const fit = result.fit;
        io.out(`rank ${group.rank}: ${fit.aborted ? 'interrupted' : 'trained'} ${fit.steps} steps, final loss ${fit.losses.at(-1)?.toFixed(4) ?? 'n/a'}\n`);
        return fit.aborted ? signalExit || 130 : 0;
      } finally {
        result.dispose();
      }
    }
    try {
      const fit = result.fit;
      const s = result.model.summary();
      const last = fit.losses.length > 0 ? fit.losses[fit.losses.length - 1].toFixed(4) : 'n/a';
      const backbone = path.join(outDir, 'backbone.pt');
      await result.model.exportStateDict(backbone);
      const lines = [
        `${fit.aborted ? 'interrupted' : 'trained'}: ${method} (ema ${s.emaParts.length ? s.emaParts.join('+') : 'none'}, objective ${result.config.objective.name}) on ${result.trainSet.name}, ` +
          `${fit.steps} steps${fit.resumedFrom !== undefined ? ` (resumed at ${fit.resumedFrom})` : ''} in ${((Date.now() - t0) / 1000).toFixed(1)} s, final loss ${last}`,
        `checkpoint  ${result.paths.checkpoint}`,
        `run config  ${result.paths.runInfo}`,
        `metrics     ${result.paths.metrics}`,
        `backbone    ${backbone}`,
      ];
      let evaluation: RepresentationResult | undefined;
      if (v.eval === true && !fit.aborted) {
        const trainSeconds = (Date.now() - t0) / 1000;
        evaluation = await evaluateSplits(result.model, dataset, v.dataDir as string | undefined, v, io);
        // The run's accuracies as a file, shaped like the demo's results.json (evaluation.learned.*).
        const totalSeconds = (Date.now() - t0) / 1000;
        const results = {
          dataset: result.trainSet.name, method, ema: s.emaParts, stepsDone: fit.steps, resumedFrom: fit.resumedFrom ?? null, finalLoss: fit.losses.at(-1) ?? null,
          trainSeconds, evalSeconds: totalSeconds - trainSeconds, totalSeconds, evaluation,
        };
        const file = path.join(outDir, 'results.json');
        fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
        lines.push(`results     ${file}`);
      }
      if (v.json === true) {
        io.out(JSON.stringify({ steps: fit.steps, aborted: fit.aborted, resumedFrom: fit.resumedFrom, finalLoss: fit.losses.at(-1), paths: { ...result.paths, backbone }, evaluation }, null, 2) + '\n');
      } else {
        io.out(lines.join('\n') + '\n');
        if (evaluation) io.out('\n' + formatResultTable(evaluation) + '\n');
      }
      if (typeof v.report === 'string') {
        const file = await writeReport(v.report, {
          title: `momentum-ssl: ${method} on ${dataset}`,
          subtitle: `ema ${s.emaParts.join('+') || 'none'}, ${fit.steps} steps of batch ${(v.batchSize as number | undefined) ?? PRETRAIN_DEFAULTS.batchSize}`,
          history: readHistory(result.paths.metrics!),
          evaluation,
          facts: { dataset: result.trainSet.name, steps: fit.steps, signature: result.model.signature(), checkpoint: result.paths.checkpoint ?? '' },
        });
        io.out(`report      ${file}\n`);
      }
      if (fit.aborted) {
        io.err(`stopped at step ${fit.steps} with a checkpoint of that step in ${result.paths.checkpoint}; continue with: momentum-ssl pretrain --out ${outDir} --resume (same options)\n`);
        return signalExit || 130;
      }
      return 0;
    } finally {
      result.dispose();
    }
  },
};
