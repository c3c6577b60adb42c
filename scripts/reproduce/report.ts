// The reproduce outputs: the printed table and report.html (plots and the claims table). Every
// value that is a mean over seeds is drawn with an error bar of ± its std over seeds.
import { PART_NAMES } from '../../lib/config';
import { barChart, lineChart } from '../../lib/analysis/charts';
import { escapeHtml } from '../../lib/analysis/report';
import { mean, sampleStd } from '../../lib/analysis/stats';
import { ClaimResult, steadyCv } from './claims';
import { blockStat, GradStat } from './longClaims';
import { lastK, RunResult, VARIANTS } from './variants';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

/** mean ± std in percent ("±" left out for one value). */
function pm(xs: number[], scale = 100, digits = 1): string {
  if (xs.length === 0) return '-';
  const s = sampleStd(xs);
  return `${(mean(xs) * scale).toFixed(digits)}${Number.isFinite(s) ? ` ± ${(s * scale).toFixed(digits)}` : ''}`;
}

const linear = (rs: RunResult[]) => rs.map((r) => r.linearTop1).filter((x): x is number => x !== null);

/** Mean over seeds of each part's steady CV (claims.ts: windows after the first). */
function meanSteadyCv(rs: RunResult[]): number[] {
  const per = rs.map(steadyCv);
  return PART_NAMES.map((_, b) => mean(per.map((cv) => cv[b]).filter(Number.isFinite)));
}

/** One row per configuration present, in VARIANTS order: label, seeds, accuracies, timings, steady CV by part. */
function configurationRows(results: RunResult[]): string[][] {
  return VARIANTS.filter((v) => results.some((r) => r.variant === v.id)).map((v) => {
    const rs = results.filter((r) => r.variant === v.id);
    return [
      v.label,
      String(rs.length),
      pm(rs.map((r) => r.knnTop1)),
      pm(linear(rs)),
      mean(rs.map((r) => r.msPerStep)).toFixed(0),
      mean(rs.map((r) => r.keyBranchMsPerStep)).toFixed(1),
      ...meanSteadyCv(rs).map((x) => (Number.isFinite(x) ? x.toFixed(3) : '-')),
    ];
  });
}

const HEAD = ['configuration', 'seeds', 'kNN top-1 %', 'linear top-1 %', 'ms/step', 'key ms/step'];

export function renderTable(results: RunResult[]): string {
  const head = [...HEAD, ...PART_NAMES.map((p) => `CV ${p}`)];
  const rows = configurationRows(results);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The same table as Markdown, accuracy and timing columns only (the README's long-run table). */
export function renderResultsMarkdown(results: RunResult[]): string {
  const rows = configurationRows(results).map((r) => r.slice(0, HEAD.length));
  return [HEAD, HEAD.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function claimsHtml(claims: readonly ClaimResult[]): string {
  const fmt = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  let group: string | undefined;
  const rows = claims
    .map((c) => {
      const d = c.metric.startsWith('gradient') || c.points !== undefined ? 3 : 2;
      const effect = c.points !== undefined ? `r = ${fmt(c.mean, d)} [${fmt(c.interval[0], d)}, ${fmt(c.interval[1], d)}]` : `${fmt(c.mean, d)} ± ${fmt(c.std, d)} [${fmt(c.interval[0], d)}, ${fmt(c.interval[1], d)}]`;
      const agreeing = c.points !== undefined ? `${c.points} points, ${c.seeds} seeds` : `${c.agreeing}/${c.seeds}`;
      const cells = [c.claim, c.comparison, c.metric, c.test, effect, agreeing, fmt(c.p, 3), c.verdict];
      const header = c.group !== undefined && c.group !== group ? `<tr><th colspan="8">${escapeHtml(c.group)}</th></tr>\n` : '';
      group = c.group;
      return `${header}<tr>${cells.map((x) => `<td>${escapeHtml(x)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  const head = ['claim', 'a − b', 'metric', 'test', 'mean ± std [90 % CI]', 'seeds agreeing', 'p (one-sided)', 'verdict'].map((h) => `<th>${h}</th>`).join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

/** ± std over seeds, or undefined for a single seed (no spread to draw). */
function stdOf(xs: number[]): number | undefined {
  const s = sampleStd(xs);
  return xs.length > 1 && Number.isFinite(s) ? s : undefined;
}

export async function renderReport(results: RunResult[], meta: Record<string, string>, table: string, claims: readonly ClaimResult[]): Promise<string> {
  const present = VARIANTS.filter((v) => results.some((r) => r.variant === v.id));
  const byId = (id: string) => results.filter((r) => r.variant === id);
  const seedNote = (() => {
    const n = Math.max(...present.map((v) => byId(v.id).length));
    return n > 1 ? `mean ± std over ${n} seeds` : 'one seed';
  })();
  const knn = (rs: RunResult[]) => rs.map((r) => r.knnTop1);
  const acc = await barChart(
    `Accuracy by EMA configuration (${seedNote})`,
    present.map((v) => {
      const rs = byId(v.id);
      const lin = linear(rs);
      return {
        label: v.label,
        bars: [
          { name: 'kNN top-1', value: mean(knn(rs)), std: stdOf(knn(rs)), color: '#1f77b4' },
          ...(lin.length ? [{ name: 'linear probe top-1', value: mean(lin), std: stdOf(lin), color: '#ff7f0e' }] : []),
        ],
      };
    }),
    { domain: null },
  );
  // The partial-EMA sweep at equal k, against the momentum-free baseline.
  const ks = (id: (k: number) => string) => [1, 2, 3, 4, 5].filter((k) => byId(id(k)).length > 0);
  const sweepSeries = (name: string, color: string, id: (k: number) => string, metric: (rs: RunResult[]) => number[]) => ({
    name,
    color,
    points: ks(id).map((k) => [k, 100 * mean(metric(byId(id(k))))] as const),
    std: ks(id).map((k) => {
      const s = stdOf(metric(byId(id(k))));
      return s === undefined ? undefined : 100 * s;
    }),
  });
  // The partial-EMA sweep only where its runs exist (the long mode has none).
  const hasSweep = results.some((r) => /^(first|last)-\d$/.test(r.variant));
  const sweeps = await Promise.all(
    (hasSweep ? (['kNN', 'linear'] as const) : []).map((name) => {
      const metric = name === 'kNN' ? knn : linear;
      const base = byId('simclr');
      return lineChart(`${name} top-1 % by number of EMA parts k (${seedNote})`, 'k', [
        sweepSeries('first-k (from the input)', COLORS[0], (k) => `first-${k}`, metric),
        sweepSeries('last-k (from the loss)', COLORS[1], lastK, metric),
        ...(base.length ? [{ name: 'SimCLR, no EMA', color: '#7f7f7f', points: [1, 5].map((k) => [k, 100 * mean(metric(base))] as const) }] : []),
      ]);
    }),
  );
  const time = await barChart(
    `Step time by configuration (${seedNote})`,
    present.map((v) => {
      const rs = byId(v.id);
      const step = rs.map((r) => r.msPerStep);
      const key = rs.map((r) => r.keyBranchMsPerStep);
      return {
        label: v.label,
        bars: [
          { name: 'whole step', value: mean(step), std: stdOf(step), color: '#7f7f7f' },
          { name: 'key branch', value: mean(key), std: stdOf(key), color: '#d62728' },
        ],
      };
    }),
    { domain: null, format: '.0f', axisTitle: 'ms per step' },
  );
  // Gradient CV by part over training, mean over seeds at each window end.
  const cvCharts = await Promise.all(
    ['simclr', 'simclr-projector', 'simclr-full']
      .filter((id) => byId(id).length > 0)
      .map((id) => {
        const rs = byId(id);
        const steps = [...new Set(rs.flatMap((r) => r.cvOverTraining.map(([s]) => s)))].sort((a, b) => a - b);
        return lineChart(
          `Gradient CV by part over training: ${id} (mean over ${rs.length} seed${rs.length > 1 ? 's' : ''}, window ${meta.window})`,
          'optimizer step',
          PART_NAMES.map((p, b) => ({
            name: p,
            color: COLORS[b],
            points: steps
              .map((s) => [s, mean(rs.map((r) => r.cvOverTraining.find(([t]) => t === s)?.[1][b]).filter((x): x is number => typeof x === 'number'))] as const)
              .filter(([, v]) => Number.isFinite(v)),
          })),
        );
      }),
  );
  // Per-block fluctuation by depth (issue #16), where the results carry block statistics.
  const blockStats: Array<[GradStat, string]> = [
    ['cv', 'CV of the gradient norm'],
    ['relchange', 'step-to-step relative change'],
    ['probe', '1 − probe cosine'],
  ];
  const blockCharts = await Promise.all(
    (['simclr', 'simsiam'] as const).flatMap((method) =>
      blockStats.map(([stat, label]) => {
        const ids = [method, `${method}-projector`, `${method}-full`].filter((id) => byId(id).some((r) => blockStat(r, stat, 'training') !== undefined));
        if (ids.length === 0) return Promise.resolve('');
        const names = byId(ids[0])[0].gradBlocks!.map((b) => b.block);
        return lineChart(
          `${label} by block over training (${stat === 'probe' ? 'all probes' : 'windows after the first'}), ${method}: mean over seeds; x = block, 0 = stem … ${names.length - 1} = ${names[names.length - 1]}`,
          'block (forward order)',
          ids.map((id, i) => {
            const per = byId(id)
              .map((r) => blockStat(r, stat, 'training'))
              .filter((x): x is number[] => x !== undefined);
            return { name: id, color: COLORS[i], points: names.map((_, k) => [k, mean(per.map((v) => v[k]).filter(Number.isFinite))] as [number, number]), std: names.map((_, k) => stdOf(per.map((v) => v[k]).filter(Number.isFinite))) };
          }),
        );
      }),
    ),
  );
  const facts = Object.entries(meta)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>momentum-ssl: reproduce</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}pre{font-size:11px;overflow-x:auto}svg{display:block;margin:1em 0;max-width:100%;height:auto}</style>
</head><body>
<h1>Momentum encoders: pros and cons, reproduced on CPU</h1>
<table><tbody>${facts}</tbody></table>
<h2>The paper's claims</h2>
<p>Paired over seeds (same initialisation and data order), one-sided tests at α = 0.05: the paired t-test for differences, the exact sign-flip test for per-seed rank correlations (ρ of depth against a gradient statistic), a permutation test for correlations over configurations and seeds (intervals: bootstrap over seeds). <em>leans yes/no</em> or <em>undecided</em>: the test decides neither way (the mean says where it points).</p>
${claimsHtml(claims)}
<h2>Results</h2><p>CV columns: coefficient of variation of the per-step gradient rms of each part, averaged over the windows after the first.</p><pre>${escapeHtml(table)}</pre>
${acc}
${sweeps.join('\n')}
${time}
<h2>Gradient stability</h2>
${cvCharts.join('\n')}
${blockCharts.filter((c) => c !== '').join('\n')}
</body></html>
`;
}
