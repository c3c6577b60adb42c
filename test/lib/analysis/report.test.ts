import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { barChart, lineChart } from '../../../lib/analysis/charts';
import { escapeHtml, formatResultTable, readHistory, renderReport, writeReport } from '../../../lib/analysis/report';
import { evaluation, history } from '../../helpers/reportFixtures';

/** Minimal well-formedness: every opened element (except void ones) is closed in order. */
function checkNesting(html: string): void {
  const voids = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'line', 'rect', 'path', 'circle']);
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*?)(\/?)>/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(html)) !== null) {
    const [, close, name, , selfClose] = m;
    const tag = name.toLowerCase();
    if (selfClose === '/' || (voids.has(tag) && close !== '/' && tag !== 'path' && tag !== 'rect')) continue;
    if (close === '/') {
      expect(stack.pop()).toBe(tag);
    } else {
      stack.push(tag);
    }
  }
  expect(stack).toEqual([]);
}

describe('HTML report', () => {
  test('a complete, self-contained document with the SVG plots', async () => {
    const html = await renderReport({ title: 'Run', subtitle: 'simclr', history, evaluation, facts: { steps: 50 }, notes: ['a note'] });
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toMatch(/<html lang="en">[\s\S]*<head>[\s\S]*<meta charset="utf-8">[\s\S]*<title>Run<\/title>[\s\S]*<\/head>[\s\S]*<body>[\s\S]*<\/body>\s*<\/html>\s*$/);
    checkNesting(html);
    // Loss, LR, momentum and the accuracy bars, each titled.
    expect((html.match(/<svg /g) ?? []).length).toBe(4);
    for (const t of ['Loss', 'Learning rate', 'EMA momentum m(t)', 'Top-1 accuracy: learned features vs raw pixels']) expect(html).toContain(`>${escapeHtml(t)}</text>`);
    // One line per curve; bars: learned and pixels for kNN and for the linear probe, in percent.
    expect((html.match(/aria-roledescription="line mark"/g) ?? []).length).toBe(3);
    expect((html.match(/aria-roledescription="bar"/g) ?? []).length).toBe(4);
    for (const v of ['81.0%', '79.0%', '84.0%', '83.0%']) expect(html).toMatch(new RegExp(`>${v.replace('.', '\\.')}</text>`));
    // No external assets or scripts.
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/i);
  });

  test('all text is escaped', async () => {
    const evil = '<script>alert("x")</script> & \'q\'';
    const html = await renderReport({
      title: evil,
      subtitle: evil,
      facts: { [evil]: evil },
      notes: [evil],
      history,
      evaluation,
    });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;');
    checkNesting(html);
    expect(escapeHtml('a<b>&"\'')).toBe('a&lt;b&gt;&amp;&quot;&#39;');
    const svg = await lineChart('<t>', '<x>', [{ name: '<s>', color: 'red', points: [[0, 1], [1, 2]] }]);
    expect(svg).not.toMatch(/<t>|<x>|<s>/);
    expect(await barChart('<b1>', [{ label: '<g1>', bars: [{ name: '<n1>', value: 0.5, color: 'blue' }] }])).not.toMatch(/<b1>|<g1>|<n1>/);
  });

  test('degenerate inputs: no history, constant series, NaN losses, no pixel baseline', async () => {
    const html = await renderReport({ title: 'empty' });
    checkNesting(html);
    expect(html).not.toContain('<svg');
    const flat = await lineChart('flat', 'step', [{ name: 'c', color: '#000', points: [[1, 2], [2, 2], [3, NaN]] }]);
    expect(flat).not.toContain('NaN');
    expect(await lineChart('none', 'step', [{ name: 'c', color: '#000', points: [] }])).toContain('no data');
    const noPixels = await renderReport({ title: 't', evaluation: { ...evaluation, pixels: undefined } });
    expect((noPixels.match(/aria-roledescription="bar"/g) ?? []).length).toBe(2);
  });

  test('error bars: a mean with a std gets a ± rule, one without gets none', async () => {
    const withStd = await barChart('acc', [{ label: 'a', bars: [{ name: 'kNN', value: 0.7, std: 0.05, color: 'blue' }] }]);
    expect((withStd.match(/aria-roledescription="rule mark"/g) ?? []).length).toBe(1);
    const without = await barChart('acc', [{ label: 'a', bars: [{ name: 'kNN', value: 0.7, color: 'blue' }] }]);
    expect(without).not.toContain('aria-roledescription="rule mark"');
    const line = await lineChart('k', 'k', [{ name: 's', color: 'red', points: [[1, 70], [2, 71]], std: [1.5, undefined] }]);
    expect((line.match(/aria-roledescription="rule mark"/g) ?? []).length).toBe(1);
  });

  test('writeReport writes atomically; readHistory reads the trainer JSONL; the text table', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-report-'));
    try {
      const metrics = path.join(dir, 'm.jsonl');
      fs.writeFileSync(metrics, history.map((h) => JSON.stringify({ type: 'step', time: 0, ...h })).join('\n') + '\n{"type":"eval","epoch":0,"step":50}\n{"broken');
      expect(readHistory(metrics)).toEqual(history);
      const file = await writeReport(path.join(dir, 'sub', 'r.html'), { title: 'x', history: readHistory(metrics), evaluation });
      expect(path.isAbsolute(file)).toBe(true);
      expect(fs.readFileSync(file, 'utf8')).toContain('<svg');
      expect(fs.readdirSync(path.dirname(file))).toEqual(['r.html']);
      const table = formatResultTable(evaluation);
      expect(table).toMatch(/learned \(backbone\)\s+128\s+81\.00%\s+99\.00%\s+84\.00%/);
      expect(table).toMatch(/raw pixels\s+784\s+79\.00%/);
      expect(table).toMatch(/\+2\.00 pp/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
