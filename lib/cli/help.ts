// Help text: the command list and each command's options, wrapped at 100 columns.
import * as fs from 'fs';
import * as path from 'path';

import { packageRoot } from '../native';
import type { Command, OptionSpec } from './command';
import { globalOptionsOf, GLOBAL_OPTIONS } from './options';

export function pkgVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function wrap(text: string, indent: number, width = 100): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur.length + w.length + 1 > width - indent && cur !== '') {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.join('\n' + ' '.repeat(indent));
}

function optionLines(opts: OptionSpec[]): string {
  const heads = opts.map((o) => `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.arg ? ` ${o.arg}` : ''}`);
  const col = Math.max(...heads.map((h) => h.length)) + 4;
  return opts.map((o, i) => `  ${heads[i].padEnd(col)}${wrap(o.desc, col + 2)}`).join('\n');
}

export function mainHelp(commands: readonly Command[]): string {
  const col = Math.max(...commands.map((c) => c.name.length)) + 4;
  return [
    `momentum-ssl ${pkgVersion()}: self-supervised representation learning with momentum encoders (LibTorch)`,
    '',
    'Usage: momentum-ssl <command> [options]',
    '       momentum-ssl <command> --help',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(col)}${wrap(c.summary, col + 2)}`),
    '',
    'Options:',
    optionLines([...GLOBAL_OPTIONS.filter((o) => o.name === 'help'), { name: 'version', kind: 'boolean', desc: 'print the package version' }]),
    '',
    'Exit codes: 0 ok, 1 runtime failure, 2 usage error, 130/143 interrupted. Errors are one line on stderr (--verbose: with the stack).',
    '',
  ].join('\n');
}

export function commandHelp(c: Command): string {
  return [
    `momentum-ssl ${c.name}: ${c.summary}`,
    '',
    `Usage: ${c.usage}`,
    '',
    'Options:',
    optionLines([...c.options, ...globalOptionsOf(c)]),
    ...(c.help ? ['', ...c.help] : []),
    '',
    'Examples:',
    ...c.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}
