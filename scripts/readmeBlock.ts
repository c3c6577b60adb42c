// Writing a README whose generated sections were re-rendered, or (`--check`) failing when they are stale.
import * as fs from 'fs';

export function writeOrCheck(file: string, next: string, regenerate: string): void {
  const current = fs.readFileSync(file, 'utf8');
  if (!process.argv.includes('--check')) {
    if (next !== current) fs.writeFileSync(file, next);
    return;
  }
  if (next !== current) {
    process.stderr.write(`${file}: generated sections are stale: run ${regenerate}\n`);
    process.exit(1);
  }
}
