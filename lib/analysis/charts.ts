// The reports' charts: Vega-Lite specs rendered to SVG in Node (vega's headless renderer), so a
// report inlines them and opens offline with no script. Bars are horizontal — category labels sit
// on the y axis one per row and never overlap — and a value that is a mean over seeds carries an
// error bar of ± its standard deviation.
import * as vega from 'vega';
import * as vl from 'vega-lite';

export interface Series {
  name: string;
  color: string;
  points: ReadonlyArray<readonly [number, number]>;
  /** ± this around each point (same order as points): the std over seeds of a mean. */
  std?: ReadonlyArray<number | undefined>;
}

export interface BarGroup {
  label: string;
  /** `std`: ± error bar of a mean over seeds. */
  bars: ReadonlyArray<{ name: string; value: number; color: string; std?: number }>;
}

export interface BarChartOptions {
  /** d3-format of the values and the axis (default '.1%': accuracies in [0, 1]). */
  format?: string;
  /** Axis domain (default [0, 1]); null: from the data. */
  domain?: [number, number] | null;
  /** Axis title (default none). */
  axisTitle?: string;
}

const WIDTH = 560;
const FONT = 'system-ui, sans-serif';
const CONFIG = {
  font: FONT,
  view: { stroke: '#999' },
  axis: { labelFontSize: 11, titleFontSize: 11, gridColor: '#e5e5e5' },
  legend: { labelFontSize: 11, orient: 'top', title: null, labelLimit: 320 },
  title: { fontSize: 13, anchor: 'middle' },
};

/** Renders a Vega-Lite spec to an SVG string (no browser, no canvas: text widths are estimated). */
export async function vegaLiteSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A line chart of one or more series over a shared x axis, with ± std bars where given. */
export async function lineChart(title: string, xLabel: string, series: readonly Series[]): Promise<string> {
  const values = series.flatMap((s) =>
    s.points
      .map(([x, y], i) => ({ series: s.name, x, y, lo: y - (s.std?.[i] ?? 0), hi: y + (s.std?.[i] ?? 0), hasStd: s.std?.[i] !== undefined }))
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)),
  );
  if (values.length === 0) {
    return vegaLiteSvg({ title, width: WIDTH, height: 60, config: CONFIG, data: { values: [{ t: 'no data' }] }, mark: { type: 'text', fontSize: 13 }, encoding: { text: { field: 't' } } } as vl.TopLevelSpec);
  }
  const color = { field: 'series', type: 'nominal', sort: null, scale: { domain: series.map((s) => s.name), range: series.map((s) => s.color) }, legend: series.length > 1 ? {} : null };
  const x = { field: 'x', type: 'quantitative', title: xLabel, scale: { zero: false, nice: false } };
  const layers: object[] = [{ mark: { type: 'line', strokeWidth: 1.5, point: values.length <= 40 }, encoding: { x, y: { field: 'y', type: 'quantitative', title: null, scale: { zero: false } }, color } }];
  if (values.some((v) => v.hasStd)) {
    layers.push({ transform: [{ filter: 'datum.hasStd' }], mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } });
  }
  return vegaLiteSvg({ title, width: WIDTH, height: 200, config: CONFIG, data: { values }, layer: layers } as vl.TopLevelSpec);
}

/**
 * Horizontal grouped bars: one row band per group (its label on the y axis), one bar per member,
 * the value printed past the end of each bar (and of its error bar).
 */
export async function barChart(title: string, groups: readonly BarGroup[], options: BarChartOptions = {}): Promise<string> {
  const format = options.format ?? '.1%';
  const names = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const colors = names.map((n) => groups.flatMap((g) => g.bars).find((b) => b.name === n)!.color);
  const values = groups.flatMap((g) =>
    g.bars.map((b) => ({ group: g.label, bar: b.name, value: b.value, lo: b.value - (b.std ?? 0), hi: b.value + (b.std ?? 0), hasStd: b.std !== undefined })),
  );
  const rows = Math.max(1, values.length);
  const scale = options.domain === null ? { nice: true } : { domain: options.domain ?? [0, 1] };
  const x = { field: 'value', type: 'quantitative', title: options.axisTitle ?? null, scale, axis: { format } };
  const y = { field: 'group', type: 'nominal', sort: null, title: null, axis: { labelLimit: 360 } };
  const yOffset = { field: 'bar', type: 'nominal', sort: names };
  const color = { field: 'bar', type: 'nominal', sort: names, scale: { domain: names, range: colors }, legend: names.length > 1 ? {} : null };
  const layers: object[] = [
    { mark: { type: 'bar', height: { band: 0.85 } }, encoding: { x, y, yOffset, color } },
    {
      mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#333' },
      encoding: { x: { field: 'hi', type: 'quantitative' }, y, yOffset, text: { field: 'value', type: 'quantitative', format } },
    },
  ];
  if (values.some((v) => v.hasStd)) {
    layers.splice(1, 0, {
      transform: [{ filter: 'datum.hasStd' }],
      mark: { type: 'rule', color: '#222', strokeWidth: 1.2 },
      encoding: { x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' }, y, yOffset },
    });
  }
  return vegaLiteSvg({ title, width: WIDTH - 120, height: rows * 14 + groups.length * 6, config: CONFIG, data: { values }, layer: layers } as vl.TopLevelSpec);
}
