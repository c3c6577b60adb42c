// What a CLI command is: its option table, help text and a run function. Each command lives in
// its own file under lib/cli/ and is listed once in lib/cli/index.ts (COMMANDS).
import type { DeepPartial, SslConfig } from '../config';

export type OptionKind = 'string' | 'int' | 'number' | 'boolean';

export interface OptionSpec {
  /** Long flag name (kebab-case); the config-file key is its camelCase form. */
  name: string;
  kind: OptionKind;
  arg?: string;
  desc: string;
  short?: string;
  choices?: readonly string[];
  /** Repeatable flag (collected into an array). */
  multiple?: boolean;
}

/** Flag values by camelCase name, after type conversion; config-file values under them. */
export type Values = Record<string, unknown>;

export interface ParsedArgs {
  values: Values;
  /** SslConfig overrides from the config file's `model:` section and --set. */
  model: DeepPartial<SslConfig>;
  /** Everything after the first `--`, verbatim (commands with `acceptsRest` only; undefined: no `--`). */
  rest?: string[];
}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec[];
  examples: string[];
  /** Extra help paragraphs printed after the options. */
  help?: string[];
  /** Accepts a `model:` section in --config and --set (pretrain-like commands). */
  acceptsModel?: boolean;
  /** Takes a command line of its own after `--` (launch), handed over verbatim as `rest`. */
  acceptsRest?: boolean;
  /** Takes only --verbose and --help of the global options (no config file, no LibTorch threads). */
  fewGlobals?: boolean;
  /** Resolves to the exit code (0 ok, 1 runtime failure, 2 usage error, 130/143 interrupted). */
  run(args: ParsedArgs, io: Io): Promise<number>;
}

/** A bad command line or config file: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
