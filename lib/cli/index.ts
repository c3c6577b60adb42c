#!/usr/bin/env node
// `momentum-ssl` command line. Each command is one file in lib/cli/ and one line in COMMANDS.
// Options come from flags and/or a JSON or YAML file (--config); flags win. Exit codes: 0 ok,
// 1 runtime failure, 2 usage error, 130/143 interrupted. Errors are one line on stderr (the stack
// only with --verbose).
import { watchLauncher } from '../distributed/launcher';
import { ConfigError } from '../errors';
import { setNumThreads } from '../runtime';
import { Command, Io, UsageError } from './command';
import { demoCommand } from './demo';
import { embedCommand } from './embed';
import { evalCommand } from './eval';
import { exportCommand } from './export';
import { commandHelp, mainHelp, pkgVersion } from './help';
import { infoCommand } from './info';
import { launchCommand } from './launch';
import { oneLine, parseCommand } from './options';
import { pretrainCommand } from './pretrain';

export const COMMANDS: Readonly<Record<string, Command>> = Object.freeze({
  pretrain: pretrainCommand,
  eval: evalCommand,
  embed: embedCommand,
  export: exportCommand,
  info: infoCommand,
  demo: demoCommand,
  launch: launchCommand,
});

export { UsageError } from './command';
export { npyBytes, readNpy } from '../io/npy';

function known(): string {
  return Object.keys(COMMANDS).join(', ');
}

/** Runs the CLI on `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  // Flags after `--` are another command line's (launch), not ours.
  const own = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  const verbose = own.includes('--verbose');
  const name = argv[0];
  const cmd: Command | undefined = name !== undefined && Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  const prefix = `momentum-ssl${cmd ? ` ${cmd.name}` : ''}`;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' ? argv[1] : undefined;
      if (topic !== undefined) {
        if (!Object.prototype.hasOwnProperty.call(COMMANDS, topic)) throw new UsageError(`unknown command '${topic}' (commands: ${known()})`);
        io.out(commandHelp(COMMANDS[topic]));
        return 0;
      }
      (name === undefined ? io.err : io.out)(mainHelp(Object.values(COMMANDS)));
      return name === undefined ? 2 : 0;
    }
    if (name === '--version' || name === '-v') {
      io.out(`${pkgVersion()}\n`);
      return 0;
    }
    if (!cmd) throw new UsageError(`unknown command '${name}' (commands: ${known()}; see momentum-ssl --help)`);
    const rest = argv.slice(1);
    if (own.includes('--help') || own.includes('-h')) {
      io.out(commandHelp(cmd));
      return 0;
    }
    const parsed = parseCommand(cmd, rest);
    if (typeof parsed.values.threads === 'number') {
      if (parsed.values.threads < 1) throw new UsageError('--threads must be an integer >= 1');
      setNumThreads(parsed.values.threads);
    }
    return await cmd.run(parsed, io);
  } catch (e) {
    const err = e as Error & { code?: string };
    const usage = err instanceof UsageError || err instanceof ConfigError || err?.name === 'UsageError' || err?.name === 'ConfigError';
    const msg = oneLine(String(err?.message ?? err)) || String(err?.name ?? 'error');
    io.err(`${prefix}: error: ${msg}${usage && cmd ? ` (see momentum-ssl ${cmd.name} --help)` : ''}\n`);
    if (verbose && err?.stack) io.err(err.stack + '\n');
    return usage ? 2 : 1;
  }
}

if (require.main === module) {
  // A worker of `momentum-ssl launch` stops as on SIGTERM (checkpoint, exit 143) if its launcher dies.
  watchLauncher(() => process.kill(process.pid, 'SIGTERM'));
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`momentum-ssl: error: ${oneLine(String((e as Error)?.message ?? e))}\n`);
      process.exitCode = 1;
    },
  );
}
