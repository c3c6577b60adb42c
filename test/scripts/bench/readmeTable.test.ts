// The README's benchmark section is exactly what the committed runs in docs/bench/*.json say,
// and the FLOP counts behind the roofline rows match closed forms.
import * as fs from 'fs';
import * as path from 'path';

import { cpuFlags } from '../../../scripts/bench/common';
import { convFlops, resnet18Layers, stepFlops } from '../../../scripts/bench/flops';
import { BEGIN, END, loadRuns, renderRun, renderSection, renderTable, updateReadme } from '../../../scripts/bench/readme-table';

const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('README benchmark section', () => {
  it('is generated from docs/bench/*.json', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const a = readme.indexOf(BEGIN), b = readme.indexOf(END);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    expect(readme.slice(a, b + END.length)).toBe(renderSection(ROOT));
  });

  it('names the CPU, its ISA and flags for every committed run', () => {
    const runs = loadRuns(ROOT);
    expect(runs.length).toBeGreaterThan(0);
    for (const { run } of runs) {
      expect(['AVX-512', 'AVX2', 'baseline']).toContain(run.machine.cpuKind);
      expect(Array.isArray(run.machine.cpuFlags)).toBe(true);
      expect(renderRun(run)).toContain(String(run.machine.cpu));
      expect(run.rows.length).toBeGreaterThan(0);
    }
  });

  it('escapes pipes and fills a missing limit with a dash', () => {
    const t = renderTable([{ id: 'x', benchmark: 'a|b', ours: '1', python: '2', ratio: '3', goal: 'g', met: 'yes' }]);
    expect(t.split('\n')[2]).toBe('| a\\|b | 1 | 2 | 3 | g | yes | — |');
  });

  it('replaces only the marked section and refuses a README without markers', () => {
    expect(updateReadme(`x\n${BEGIN}\nold\n${END}\ny`, 'NEW')).toBe('x\nNEW\ny');
    expect(() => updateReadme('no markers', 'NEW')).toThrow(/no generated benchmark section/);
  });
});

describe('bench FLOP counts', () => {
  it('counts a conv as 2·Cin·Cout·k²·Hout·Wout', () => {
    expect(convFlops(16, 32, 3, 32, 1)).toBe(2 * 16 * 32 * 9 * 32 * 32);
    expect(convFlops(16, 32, 1, 32, 2)).toBe(2 * 16 * 32 * 16 * 16);
  });

  it('lists the 20 convs and 2 linears of ResNet-18 + projector', () => {
    const L = resnet18Layers(0.25, 1, 32);
    expect(L.length).toBe(1 + 16 + 3 + 2);
    expect(L.filter((l) => !l.inputGrad).length).toBe(1);
    // stem 1→16 at 32² plus the projector 128·512 + 512·128, in MACs per image
    expect(L[0].macs).toBe(16 * 9 * 32 * 32);
    expect(L[L.length - 2].macs + L[L.length - 1].macs).toBe(2 * 128 * 512);
  });

  it('charges forward once and backward twice (once for the stem)', () => {
    const L = resnet18Layers(0.25, 1, 32);
    const macs = L.reduce((s, l) => s + l.macs, 0);
    expect(stepFlops(1, 32)).toBe(2 * (2 * macs * 3 - 2 * L[0].macs));
  });
});

describe('cpuFlags', () => {
  it('tells AVX-512 from AVX2-only machines', () => {
    expect(cpuFlags('flags\t\t: fpu sse2 avx2 fma avx512f avx512bw\n').kind).toBe('AVX-512');
    expect(cpuFlags('flags\t\t: fpu sse2 avx2 fma\n')).toEqual({ kind: 'AVX2', flags: ['avx2', 'fma'] });
    expect(cpuFlags('flags : fpu sse2\n').kind).toBe('baseline');
  });
});
