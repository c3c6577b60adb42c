// Finds and loads the native addon at require time, and explains a failed load with the ways out.
// Order: MOMENTUM_SSL_ADDON; else a source build made here by the install step (it leaves
// build/Release/momentum_ssl.build.json; every checkout build does), then the shipped prebuild when
// it fits (scripts/prebuild-match.js: intact, this arch, this N-API), then build/Release and
// build/Debug. Each candidate is checked (ELF header, manifest) before dlopen sees it, so a file for
// another architecture or a damaged one gives a reason, not a crash or raw dlopen text alone.
import * as fs from 'fs';
import * as path from 'path';

/** Root of the package (works from lib/ under ts-jest and from dist/). */
export const packageRoot = path.resolve(__dirname, '..');

export type LoadFailureReason = 'not-built' | 'libtorch-missing' | 'abi-mismatch' | 'wrong-arch' | 'corrupt' | 'unknown';

export type AddonKind = 'env' | 'source-build' | 'prebuild' | 'build';

/** One candidate the loader tried and why it was not used. */
export interface LoadAttempt {
  file: string;
  kind: AddonKind;
  reason: LoadFailureReason;
  why: string;
}

/** Thrown when the addon cannot be loaded; `reason` says which case it is, the message the fix. */
export class NativeLoadError extends Error {
  readonly reason: LoadFailureReason;
  readonly addonPath: string | null;
  readonly attempts: readonly LoadAttempt[];
  constructor(reason: LoadFailureReason, message: string, addonPath: string | null, cause?: unknown, attempts: LoadAttempt[] = []) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'NativeLoadError';
    this.reason = reason;
    this.addonPath = addonPath;
    this.attempts = attempts;
  }
}

interface PrebuildCheck {
  present: boolean;
  ok?: boolean;
  file: string;
  reason?: LoadFailureReason;
  why?: string;
  missing?: string[];
  others?: string[];
  manifest?: { libtorch: { version: string; package: string; sonames: string[] }; napiVersion: number };
}

interface PrebuildMatch {
  ADDON: string;
  checkPrebuild(root: string): PrebuildCheck;
  elfCheck(file: string): { ok: boolean; reason?: LoadFailureReason; why?: string };
}

// Plain CommonJS shared with scripts/install.js (it runs before TypeScript is compiled).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const match = (): PrebuildMatch => require(path.join(packageRoot, 'scripts', 'prebuild-match.js')) as PrebuildMatch;

const ADDON = 'momentum_ssl.node';
/** Written by scripts/install.js beside a source build it made. */
const BUILD_RECORD = 'momentum_ssl.build.json';
const PREBUILT_PACKAGE = 'libtorch1.13';

function candidatesWithKind(env: NodeJS.ProcessEnv, root: string): { file: string; kind: AddonKind }[] {
  if (env.MOMENTUM_SSL_ADDON) return [{ file: path.resolve(env.MOMENTUM_SSL_ADDON), kind: 'env' }];
  const release = path.join(root, 'build', 'Release', ADDON);
  const debug = path.join(root, 'build', 'Debug', ADDON);
  const prebuild = { file: path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, ADDON), kind: 'prebuild' as const };
  if (fs.existsSync(path.join(root, 'build', 'Release', BUILD_RECORD))) return [{ file: release, kind: 'source-build' }, prebuild, { file: debug, kind: 'build' }];
  return [prebuild, { file: release, kind: 'build' }, { file: debug, kind: 'build' }];
}

/** Where the addon may be, in the order the loader tries them. */
export function addonCandidates(env: NodeJS.ProcessEnv = process.env, root: string = packageRoot): string[] {
  return candidatesWithKind(env, root).map((c) => c.file);
}

interface TorchResolution {
  ok: boolean;
  tried: string[];
  version?: string;
  libDir?: string;
  source?: string;
}

function resolveTorch(): TorchResolution | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (require(path.join(packageRoot, 'scripts', 'find-libtorch.js')) as { resolveLibTorch(): TorchResolution }).resolveLibTorch();
  } catch {
    return null;
  }
}

/** The two ways out of a failed load, named in every NativeLoadError. */
export const WAYS_OUT =
  'Ways out: (1) the prebuilt addon in this package (built against Debian/Ubuntu\'s LibTorch 1.13): ' +
  `\`sudo apt-get install ${PREBUILT_PACKAGE}\` (runtime only: no headers, no compiler); ` +
  '(2) a source build against the LibTorch you have: `sudo apt-get install libtorch-dev cmake g++` ' +
  '(or point LIBTORCH / CMAKE_PREFIX_PATH at a LibTorch, see README "How LibTorch is found"), then ' +
  '`MOMENTUM_SSL_BUILD_FROM_SOURCE=1 npm rebuild momentum-ssl` (recent npm lists install scripts not in `allowScripts` and a future npm blocks them: ' +
  'allow it first with `npm approve-scripts momentum-ssl`; in a checkout: `npm run build:native`).';

/** Reason and one-line explanation of a dlopen/require failure. */
function classify(err: unknown, file: string): { reason: LoadFailureReason; why: string } {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  const torchLib = /lib(torch|torch_cpu|torch_cuda|c10|c10_cuda)[\w.]*\.so[\w.]*/.exec(msg);
  // dlopen says "<file>: <problem>"; a damaged or foreign file is the addon's own problem only
  // when the file it names is the addon (a damaged libtorch_cpu.so is LibTorch's).
  const aboutAddon = !torchLib || msg.startsWith(file);
  if (aboutAddon && /invalid ELF header|file too short|ELF load command|not an ELF/i.test(msg)) return { reason: 'corrupt', why: `${file} is damaged (${msg})` };
  if (aboutAddon && /wrong ELF class|ELF file's (machine|OS ABI)|Exec format error/i.test(msg)) return { reason: 'wrong-arch', why: `${file} is for another architecture (${msg})` };
  if (/NODE_MODULE_VERSION|undefined symbol|version `GLIBCXX|version `CXXABI|version `GLIBC_|incompatible/i.test(msg)) {
    return { reason: 'abi-mismatch', why: `${file} does not match this machine's LibTorch or Node (ABI/version mismatch: ${msg})` };
  }
  if (torchLib) return { reason: 'libtorch-missing', why: `LibTorch could not be loaded (${torchLib[0]}: ${msg})` };
  return { reason: 'unknown', why: `failed to load ${file}: ${msg}` };
}

function torchNote(): string {
  const torch = resolveTorch();
  if (torch === null) return '';
  return torch.ok ? ` find-libtorch now resolves LibTorch ${torch.version} in ${torch.libDir} (${torch.source}).` : ` find-libtorch finds no LibTorch (tried: ${torch.tried.join('; ')}).`;
}

function errorFrom(attempts: LoadAttempt[], looked: string[], cause?: unknown): NativeLoadError {
  if (attempts.length === 0) {
    return new NativeLoadError(
      'not-built',
      `momentum-ssl: the native addon is not built and no prebuild for ${process.platform}-${process.arch} ships in this package (looked for ${looked.join(', ')}). ${WAYS_OUT}`,
      null,
      cause,
    );
  }
  const first = attempts[0];
  const tried = attempts.map((a) => `${a.kind} ${a.file}: ${a.why}`).join('; ');
  return new NativeLoadError(first.reason, `momentum-ssl: the native addon could not be loaded (${tried}). ${WAYS_OUT}`, first.file, cause, attempts);
}

/** Turns one failed load into an error that names the case and the fix. Exported for tests. */
export function explainLoadFailure(err: unknown, addonPath: string | null): NativeLoadError {
  if (addonPath === null) return errorFrom([], addonCandidates(), err);
  const c = classify(err, addonPath);
  return errorFrom([{ file: addonPath, kind: 'build', reason: c.reason, why: c.reason === 'libtorch-missing' ? c.why + torchNote() : c.why }], [addonPath], err);
}

/** The addon this thread loaded, and which kind of candidate it was. */
export interface LoadedAddon<T> {
  binding: T;
  file: string;
  kind: AddonKind;
}

/** Tries each candidate in order; throws a NativeLoadError naming every one tried. */
export function loadAddon<T>(env: NodeJS.ProcessEnv = process.env, root: string = packageRoot): LoadedAddon<T> {
  const attempts: LoadAttempt[] = [];
  const cands = candidatesWithKind(env, root);
  let lastErr: unknown;
  for (const { file, kind } of cands) {
    if (!fs.existsSync(file)) {
      if (kind === 'env') attempts.push({ file, kind, reason: 'not-built', why: `MOMENTUM_SSL_ADDON=${env.MOMENTUM_SSL_ADDON} points at nothing` });
      continue;
    }
    let prebuilt: PrebuildCheck | null = null;
    if (kind === 'prebuild') {
      prebuilt = match().checkPrebuild(root);
      if (!prebuilt.ok) {
        attempts.push({ file, kind, reason: prebuilt.reason ?? 'corrupt', why: prebuilt.why ?? 'does not fit this machine' });
        continue;
      }
    } else {
      const elf = match().elfCheck(file);
      if (!elf.ok) {
        attempts.push({ file, kind, reason: elf.reason ?? 'corrupt', why: elf.why ?? 'not a shared library' });
        continue;
      }
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      return { binding: require(file) as T, file, kind };
    } catch (err) {
      lastErr = err;
      const c = classify(err, file);
      let why = c.why;
      if (prebuilt?.missing?.length && prebuilt.manifest) {
        const lt = prebuilt.manifest.libtorch;
        why = `needs LibTorch ${lt.version} (${prebuilt.missing.join(', ')} from Debian's ${lt.package}), not found on the library path`;
        if (prebuilt.others?.length) why += `; this system has LibTorch ${prebuilt.others.join(', ')}: that one needs the source build (2)`;
        attempts.push({ file, kind, reason: 'libtorch-missing', why });
        continue;
      }
      if (c.reason === 'libtorch-missing' && kind !== 'prebuild') why += torchNote();
      attempts.push({ file, kind, reason: c.reason, why });
    }
  }
  throw errorFrom(attempts, cands.map((c) => c.file), lastErr);
}
