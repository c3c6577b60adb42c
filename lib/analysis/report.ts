// A self-contained HTML report of a run: inline SVG plots (loss, LR and EMA momentum over steps,
// accuracy bars of learned features vs raw pixels), tables, no external assets and no scripts.
// Every piece of text that reaches the page goes through escapeHtml().
import * as fs from 'fs';
import * as path from 'path';

import type { RepresentationResult } from '../eval/representation';
import type { StepRecord } from '../train/pretrain';

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

export interface Series {
  name: string;
  color: string;
  points: ReadonlyArray<readonly [number, number]>;
}

const W = 640;
const H = 280;
const M = { left: 64, right: 16, top: 32, bottom: 44 };

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 1e-3) return v.toExponential(1);
  return Number(v.toPrecision(4)).toString();
}

/** An SVG line chart (one or more series over a shared x axis). */
export function lineChart(title: string, xLabel: string, series: readonly Series[]): string {
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const head = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">`;
  const titleEl = `<text x="${W / 2}" y="18" text-anchor="middle" class="t">${escapeHtml(title)}</text>`;
  if (pts.length === 0) return `${head}${titleEl}<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text></svg>`;
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) {
    const d = Math.abs(y0) * 0.05 || 1;
    [y0, y1] = [y0 - d, y1 + d];
  } else {
    const pad = (y1 - y0) * 0.05;
    [y0, y1] = [y0 - pad, y1 + pad];
  }
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => M.top + (1 - (y - y0) / (y1 - y0)) * ph;
  const parts: string[] = [head, titleEl];
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" class="g"/>`);
    parts.push(`<text x="${M.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${escapeHtml(fmt(t))}</text>`);
  }
  for (const t of niceTicks(x0, x1, 6)) {
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${escapeHtml(fmt(t))}</text>`);
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" class="f"/>`);
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 6}" text-anchor="middle">${escapeHtml(xLabel)}</text>`);
  series.forEach((s, i) => {
    const d = s.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join('');
    parts.push(`<path d="${d}" fill="none" stroke="${escapeHtml(s.color)}" stroke-width="1.5"><title>${escapeHtml(s.name)}</title></path>`);
    if (series.length > 1) {
      const lx = M.left + 8 + i * 150;
      parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${M.top + 12}" y2="${M.top + 12}" stroke="${escapeHtml(s.color)}" stroke-width="3"/>`);
      parts.push(`<text x="${lx + 22}" y="${M.top + 16}">${escapeHtml(s.name)}</text>`);
    }
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface BarGroup {
  label: string;
  bars: ReadonlyArray<{ name: string; value: number; color: string }>;
}

/** An SVG grouped bar chart of values in [0, 1] (accuracies), labelled in percent. */
export function barChart(title: string, groups: readonly BarGroup[]): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sy = (v: number) => M.top + (1 - Math.max(0, Math.min(1, v))) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">`,
    `<text x="${W / 2}" y="18" text-anchor="middle" class="t">${escapeHtml(title)}</text>`,
  ];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${sy(t)}" y2="${sy(t)}" class="g"/>`);
    parts.push(`<text x="${M.left - 6}" y="${sy(t) + 4}" text-anchor="end">${t * 100}%</text>`);
  }
  const gw = pw / Math.max(groups.length, 1);
  groups.forEach((g, gi) => {
    const n = Math.max(g.bars.length, 1);
    const bw = Math.min(60, (gw * 0.7) / n);
    const start = M.left + gi * gw + (gw - bw * n) / 2;
    g.bars.forEach((b, bi) => {
      const x = start + bi * bw;
      const y = sy(b.value);
      const pct = `${(b.value * 100).toFixed(1)}%`;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${(M.top + ph - y).toFixed(1)}" fill="${escapeHtml(b.color)}"><title>${escapeHtml(`${g.label} — ${b.name}: ${pct}`)}</title></rect>`);
      parts.push(`<text x="${(x + (bw - 4) / 2).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle">${escapeHtml(pct)}</text>`);
      parts.push(`<text x="${(x + (bw - 4) / 2).toFixed(1)}" y="${H - M.bottom + 30}" text-anchor="middle" class="s">${escapeHtml(b.name)}</text>`);
    });
    parts.push(`<text x="${(M.left + gi * gw + gw / 2).toFixed(1)}" y="${H - M.bottom + 14}" text-anchor="middle">${escapeHtml(g.label)}</text>`);
  });
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" class="f"/>`);
  parts.push('</svg>');
  return parts.join('');
}

const LEARNED = '#1f77b4';
const PIXELS = '#aaaaaa';

function pct(v: number | undefined): string {
  return v === undefined ? '—' : `${(v * 100).toFixed(2)}%`;
}

function evaluationSection(e: RepresentationResult): string {
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
  return `<h2>Representation quality</h2><p>${escapeHtml(`${e.trainSize} train / ${e.testSize} test images; top-1 accuracy on the test images.`)}</p>${table}${barChart('Top-1 accuracy: learned features vs raw pixels', groups)}`;
}

/** The report as one HTML string. */
export function renderReport(data: ReportData): string {
  const body: string[] = [`<h1>${escapeHtml(data.title)}</h1>`];
  if (data.subtitle) body.push(`<p class="sub">${escapeHtml(data.subtitle)}</p>`);
  if (data.evaluation) body.push(evaluationSection(data.evaluation));
  if (data.history && data.history.length > 0) {
    const h = data.history;
    body.push('<h2>Training</h2>');
    body.push(lineChart('Loss', 'optimizer step', [{ name: 'loss', color: '#d62728', points: h.map((r) => [r.step, r.loss] as const) }]));
    body.push(lineChart('Learning rate', 'optimizer step', [{ name: 'learning rate', color: '#2ca02c', points: h.map((r) => [r.step, r.lr] as const) }]));
    body.push(lineChart('EMA momentum m(t)', 'optimizer step', [{ name: 'momentum', color: '#9467bd', points: h.map((r) => [r.step, r.momentum] as const) }]));
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
    'svg{display:block;margin:1em 0;font-size:11px}svg .t{font-size:13px;font-weight:600}svg .s{font-size:10px;fill:#555}',
    'svg .g{stroke:#e5e5e5}svg .f{fill:none;stroke:#999}',
  ].join('');
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${escapeHtml(data.title)}</title>\n<style>${style}</style>\n</head>\n<body>\n${body.join('\n')}\n</body>\n</html>\n`;
}

/** Writes the report (atomically: temp file + rename) and resolves to its absolute path. */
export async function writeReport(file: string, data: ReportData): Promise<string> {
  const abs = path.resolve(file);
  await fs.promises.mkdir(path.dirname(abs), { recursive: true });
  const tmp = `${abs}.tmp`;
  await fs.promises.writeFile(tmp, renderReport(data), 'utf8');
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
