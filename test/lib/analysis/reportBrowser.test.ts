// Both HTML reports (the demo/pretrain report and the reproduce report of docs/results) opened in
// headless Chromium: no console error, every chart's SVG laid out with a non-zero size, and a
// screenshot of each in test-output/reports/ to look at. Skips, saying why, where no Chromium is
// installed (CI installs Debian's chromium).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { chromium, Browser } from 'playwright-core';

import { writeReport } from '../../../lib/analysis/report';
import { evaluateClaims } from '../../../scripts/reproduce/claims';
import { renderReport as renderReproduceReport, renderTable } from '../../../scripts/reproduce/report';
import type { RunResult } from '../../../scripts/reproduce/variants';
import { repoRoot } from '../../helpers/child';
import { evaluation, history } from '../../helpers/reportFixtures';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => fs.existsSync(p));
const OUT = path.join(repoRoot, 'test-output', 'reports');
const describeBrowser = CHROMIUM ? describe : describe.skip;
if (!CHROMIUM) console.log('report browser test skipped: no Chromium at /usr/bin/chromium (apt-get install chromium) or CHROMIUM_PATH');

describeBrowser('HTML reports in headless Chromium', () => {
  let browser: Browser;
  let tmp: string;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-browser-'));
    fs.mkdirSync(OUT, { recursive: true });
    // playwright-core gives every launch a fresh temporary profile (its own --user-data-dir).
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Opens the file, fails on console errors, returns each SVG's laid-out size. */
  async function open(file: string, name: string): Promise<Array<{ width: number; height: number }>> {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    // Offline: any request leaving the file is an error.
    await page.route(/^(?!file:)/, (r) => {
      errors.push(`request to ${r.request().url()}`);
      return r.abort();
    });
    await page.goto(`file://${file}`);
    const sizes = await page.$$eval('svg.marks', (svgs) => svgs.map((s) => ({ width: s.getBoundingClientRect().width, height: s.getBoundingClientRect().height })));
    await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
    await page.close();
    expect(errors).toEqual([]);
    return sizes;
  }

  test('demo / pretrain report', async () => {
    const file = await writeReport(path.join(tmp, 'demo.html'), { title: 'SimCLR + projector-only momentum on fashion-mnist', subtitle: 'width-0.25 ResNet-18', history, evaluation, facts: { steps: history.length } });
    const sizes = await open(file, 'demo-report');
    expect(sizes).toHaveLength(4);
    for (const s of sizes) expect(s.width * s.height).toBeGreaterThan(0);
  });

  test('reproduce report of docs/results', async () => {
    const results = fs
      .readFileSync(path.join(repoRoot, 'docs', 'results', 'results.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as RunResult);
    const html = await renderReproduceReport(results, { command: 'npm run reproduce', window: '50' }, renderTable(results), evaluateClaims(results));
    const file = path.join(tmp, 'reproduce.html');
    fs.writeFileSync(file, html);
    const sizes = await open(file, 'reproduce-report');
    // Accuracy bars, two sweep charts, step-time bars, three gradient-CV charts.
    expect(sizes).toHaveLength(7);
    for (const s of sizes) expect(s.width * s.height).toBeGreaterThan(0);
  });
});
