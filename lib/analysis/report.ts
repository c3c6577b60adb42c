// A self-contained HTML report of a run: inline SVG plots (loss, LR and EMA momentum over steps,
// accuracy bars of learned features vs raw pixels; Vega-Lite, rendered in Node by charts.ts),
// tables, no external assets and no scripts. Every piece of text that reaches the page goes
// through escapeHtml() (vega escapes the text inside its SVG).
import * as fs from 'fs';
import * as path from 'path';

import type { RepresentationResult } from '../eval/representation';
import type { StepRecord } from '../train/pretrain';
import { barChart, BarGroup, lineChart } from './charts';

export interface ReportData {
  title: string;
  /** One line under the title (e.g. the dataset and method). */
  subtitle?: string;
  /** Key facts of the run, shown as a table (config, timings, sizes). */
  facts?: Record<string, string | number | boolean>;
  /** Training history, one record per optimizer step. */
  history?: readonly StepRecord[];
  evaluation?: RepresentationResult;
  /** Free-form remarks, one paragraph each. */
  notes?: readonly string[];
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const LEARNED = '#1f77b4';
const PIXELS = '#aaaaaa';

function pct(v: number | undefined): string {
  return v === undefined ? '—' : `${(v * 100).toFixed(2)}%`;
}

async function evaluationSection(e: RepresentationResult): Promise<string> {
  const rows: Array<[string, string, string, number]> = [['learned features', pct(e.learned.knn.top1), pct(e.learned.linear?.testAccuracy), e.learned.featureDim]];
  if (e.pixels) rows.push(['raw pixels', pct(e.pixels.knn.top1), pct(e.pixels.linear?.testAccuracy), e.pixels.featureDim]);
  const table =
    `<table><thead><tr><th>features</th><th>kNN top-1 (k=${escapeHtml(e.k)}, T=${escapeHtml(e.temperature)})</th><th>linear probe top-1</th><th>dim</th></tr></thead><tbody>` +
    rows.map((r) => `<tr><td>${escapeHtml(r[0])}</td><td>${escapeHtml(r[1])}</td><td>${escapeHtml(r[2])}</td><td>${escapeHtml(r[3])}</td></tr>`).join('') +
    '</tbody></table>';
  const groups: BarGroup[] = [
    {
      label: 'weighted kNN',
      bars: [{ name: 'learned', value: e.learned.knn.top1, color: LEARNED }, ...(e.pixels ? [{ name: 'raw pixels', value: e.pixels.knn.top1, color: PIXELS }] : [])],
    },
  ];
  if (e.learned.linear) {
    groups.push({
      label: 'linear probe',
      bars: [
        { name: 'learned', value: e.learned.linear.testAccuracy, color: LEARNED },
        ...(e.pixels?.linear ? [{ name: 'raw pixels', value: e.pixels.linear.testAccuracy, color: PIXELS }] : []),
      ],
    });
  }
  return `<h2>Representation quality</h2><p>${escapeHtml(`${e.trainSize} train / ${e.testSize} test images; top-1 accuracy on the test images.`)}</p>${table}${await barChart('Top-1 accuracy: learned features vs raw pixels', groups)}`;
}

/** The report as one HTML string. */
export async function renderReport(data: ReportData): Promise<string> {
  const body: string[] = [`<h1>${escapeHtml(data.title)}</h1>`];
  if (data.subtitle) body.push(`<p class="sub">${escapeHtml(data.subtitle)}</p>`);
  if (data.evaluation) body.push(await evaluationSection(data.evaluation));
  if (data.history && data.history.length > 0) {
    const h = data.history;
    body.push('<h2>Training</h2>');
    body.push(await lineChart('Loss', 'optimizer step', [{ name: 'loss', color: '#d62728', points: h.map((r) => [r.step, r.loss] as const) }]));
    body.push(await lineChart('Learning rate', 'optimizer step', [{ name: 'learning rate', color: '#2ca02c', points: h.map((r) => [r.step, r.lr] as const) }]));
    body.push(await lineChart('EMA momentum m(t)', 'optimizer step', [{ name: 'momentum', color: '#9467bd', points: h.map((r) => [r.step, r.momentum] as const) }]));
  }
  if (data.facts && Object.keys(data.facts).length > 0) {
    body.push('<h2>Run</h2><table><tbody>');
    for (const [k, v] of Object.entries(data.facts)) body.push(`<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`);
    body.push('</tbody></table>');
  }
  for (const n of data.notes ?? []) body.push(`<p>${escapeHtml(n)}</p>`);
  const style = [
    'body{font:14px/1.45 system-ui,sans-serif;max-width:720px;margin:2em auto;padding:0 1em;color:#222}',
    'h1{font-size:1.5em;margin-bottom:0}.sub{color:#555;margin-top:.2em}',
    'table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:left}',
    'svg{display:block;margin:1em 0;max-width:100%;height:auto}',
  ].join('');
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${escapeHtml(data.title)}</title>\n<style>${style}</style>\n</head>\n<body>\n${body.join('\n')}\n</body>\n</html>\n`;
}

/** Writes the report (atomically: temp file + rename) and resolves to its absolute path. */
export async function writeReport(file: string, data: ReportData): Promise<string> {
  const abs = path.resolve(file);
  await fs.promises.mkdir(path.dirname(abs), { recursive: true });
  const tmp = `${abs}.tmp`;
  await fs.promises.writeFile(tmp, await renderReport(data), 'utf8');
  await fs.promises.rename(tmp, abs);
  return abs;
}

/** Reads the step lines of a metrics JSONL file written by the Trainer. */
export function readHistory(metricsFile: string): StepRecord[] {
  const out: StepRecord[] = [];
  for (const line of fs.readFileSync(metricsFile, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let r: { type?: string; step?: number; loss?: number; lr?: number; momentum?: number };
    try {
      r = JSON.parse(line);
    } catch {
      continue;
    }
    if (r.type === 'step' && typeof r.step === 'number') out.push({ step: r.step, loss: Number(r.loss), lr: Number(r.lr), momentum: Number(r.momentum) });
  }
  return out;
}

/** The evaluation as a plain-text table for terminals (learned features vs raw pixels). */
export function formatResultTable(e: RepresentationResult): string {
  const p = (v: number | undefined) => (v === undefined ? '—' : `${(v * 100).toFixed(2)}%`);
  const rows: string[][] = [['features', 'dim', `kNN top-1 (k=${e.k}, T=${e.temperature})`, 'kNN top-5', 'linear probe top-1']];
  rows.push(['learned (backbone)', String(e.learned.featureDim), p(e.learned.knn.top1), p(e.learned.knn.top5), p(e.learned.linear?.testAccuracy)]);
  if (e.pixels) {
    rows.push(['raw pixels', String(e.pixels.featureDim), p(e.pixels.knn.top1), p(e.pixels.knn.top5), p(e.pixels.linear?.testAccuracy)]);
    const d = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '—' : `${a >= b ? '+' : ''}${((a - b) * 100).toFixed(2)} pp`);
    rows.push(['learned − pixels', '', d(e.learned.knn.top1, e.pixels.knn.top1), d(e.learned.knn.top5, e.pixels.knn.top5), d(e.learned.linear?.testAccuracy, e.pixels.linear?.testAccuracy)]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]), sep, ...rows.slice(1).map(line), '', `${e.trainSize} train / ${e.testSize} test images`].join('\n');
}
