// Progress output: a bar on a TTY (cli-progress), plain lines otherwise, with steps/s and ETA.
import { SingleBar } from 'cli-progress';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export class ProgressReporter {
  private readonly mode: Exclude<ProgressMode, 'auto'>;
  private bar: SingleBar | null = null;
  private readonly start = Date.now();
  private readonly startStep: number;
  private lastLine = 0;

  constructor(mode: ProgressMode, private readonly total: number, startStep = 0, private readonly out: NodeJS.WriteStream = process.stderr) {
    this.mode = mode === 'auto' ? (out.isTTY ? 'bar' : 'lines') : mode;
    this.startStep = startStep;
    if (this.mode === 'bar') {
      this.bar = new SingleBar({ format: 'train |{bar}| {value}/{total} steps | loss {loss} | {rate} steps/s | ETA {eta_formatted}', hideCursor: true, stream: out });
      this.bar.start(total, startStep, { loss: '-', rate: '-' });
    }
  }

  update(step: number, loss: number): void {
    const elapsed = (Date.now() - this.start) / 1000;
    const rate = (step - this.startStep) / Math.max(elapsed, 1e-9);
    if (this.bar) {
      this.bar.update(step, { loss: loss.toFixed(4), rate: rate.toFixed(2) });
    } else if (this.mode === 'lines') {
      // At most one line every 5 s, plus the last step.
      if (Date.now() - this.lastLine < 5000 && step < this.total) return;
      this.lastLine = Date.now();
      const eta = rate > 0 ? (this.total - step) / rate : NaN;
      this.out.write(`step ${step}/${this.total} loss ${loss.toFixed(4)} ${rate.toFixed(2)} steps/s ETA ${formatSeconds(eta)}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${Math.round(s % 60)}s` : `${s.toFixed(0)}s`;
}
