'use strict';
// Does the shipped prebuild fit this machine? One answer for the install step (scripts/install.js)
// and the runtime loader (lib/loader.ts), so both say the same thing. Plain CommonJS: it runs
// before TypeScript is compiled.
//
// A prebuild is prebuilds/<platform>-<arch>/momentum_ssl.node plus momentum_ssl.json beside it
// (written by scripts/prebuild.js): its size and sha256, the N-API version, the LibTorch SONAMEs
// it needs and the Debian package that has them. Checking it costs a hash of ~1.5 MB, no dlopen.

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const ADDON = 'momentum_ssl.node';
const MANIFEST = 'momentum_ssl.json';
/** ELF e_machine of each Node arch we ship for. */
const ELF_MACHINES = { x64: 62, arm64: 183, ia32: 3, arm: 40, ppc64: 21, s390x: 22, riscv64: 243 };

function prebuildDir(root, platform = process.platform, arch = process.arch) {
  return path.join(root, 'prebuilds', `${platform}-${arch}`);
}

function multiarch(arch = process.arch) {
  return `${{ x64: 'x86_64', arm64: 'aarch64' }[arch] || arch}-linux-gnu`;
}

/**
 * Reads an ELF header: { ok, machine, why }. Catches a file for another architecture and a
 * truncated file (section header table past the end) before dlopen sees it.
 */
function elfCheck(file, arch = process.arch) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const h = Buffer.alloc(64);
    const n = fs.readSync(fd, h, 0, 64, 0);
    if (n < 52 || h.readUInt32BE(0) !== 0x7f454c46) return { ok: false, reason: 'corrupt', why: `${file} is not a shared library (no ELF header; ${size} bytes)` };
    const is64 = h[4] === 2;
    const le = h[5] === 1;
    const u16 = (o) => (le ? h.readUInt16LE(o) : h.readUInt16BE(o));
    const machine = u16(18);
    const want = ELF_MACHINES[arch];
    if (want !== undefined && machine !== want) {
      const name = Object.keys(ELF_MACHINES).find((k) => ELF_MACHINES[k] === machine) || `ELF machine ${machine}`;
      return { ok: false, reason: 'wrong-arch', machine, why: `${file} is built for ${name}, this Node is ${arch}` };
    }
    if (!is64 && (arch === 'x64' || arch === 'arm64')) return { ok: false, reason: 'wrong-arch', machine, why: `${file} is a 32-bit library, this Node is ${arch}` };
    const shoff = is64 ? Number(le ? h.readBigUInt64LE(40) : h.readBigUInt64BE(40)) : le ? h.readUInt32LE(32) : h.readUInt32BE(32);
    const shentsize = u16(is64 ? 58 : 46);
    const shnum = u16(is64 ? 60 : 48);
    const end = shoff + shentsize * shnum;
    if (end > size) return { ok: false, reason: 'corrupt', why: `${file} is truncated (${size} bytes; its ELF header says at least ${end})` };
    return { ok: true, machine };
  } catch (e) {
    return { ok: false, reason: 'corrupt', why: `${file} cannot be read (${e.message})` };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The folders the dynamic loader searches (LD_LIBRARY_PATH, ld.so.conf.d, the defaults). */
function libraryDirs(env = process.env, arch = process.arch) {
  const dirs = (env.LD_LIBRARY_PATH || '').split(':').filter(Boolean);
  try {
    for (const f of fs.readdirSync('/etc/ld.so.conf.d').sort()) {
      if (!f.endsWith('.conf')) continue;
      for (const line of fs.readFileSync(path.join('/etc/ld.so.conf.d', f), 'utf8').split('\n')) {
        const l = line.trim();
        if (l.startsWith('/')) dirs.push(l);
      }
    }
  } catch {
    // no ld.so.conf.d: the defaults below
  }
  const ma = multiarch(arch);
  dirs.push(`/lib/${ma}`, `/usr/lib/${ma}`, '/lib64', '/usr/lib64', '/lib', '/usr/lib');
  return [...new Set(dirs)];
}

/** Where each SONAME is found ({ name: dir | null }). */
function findSonames(sonames, dirs = libraryDirs()) {
  const out = {};
  for (const s of sonames) out[s] = dirs.find((d) => fs.existsSync(path.join(d, s))) || null;
  return out;
}

/** Other LibTorch versions on the library path (libtorch_cpu.so.<X.Y> that is not the wanted one). */
function otherLibTorch(wanted, dirs = libraryDirs()) {
  const found = new Map(); // version → first path (merged /usr lists each twice)
  for (const d of dirs) {
    let names;
    try {
      names = fs.readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      const m = /^libtorch_cpu\.so\.(\d+\.\d+)$/.exec(n);
      if (m && !wanted.includes(n) && !found.has(m[1])) found.set(m[1], path.join(d, n));
    }
  }
  return [...found].map(([v, p]) => `${v} (${p})`);
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * Checks the prebuild for this platform and arch. Returns
 *   { present: false, file }                              no prebuild for this platform-arch
 *   { present: true, ok: true, file, manifest, missing }  intact; `missing` lists SONAMEs not found
 *   { present: true, ok: false, file, reason, why }       reason: corrupt | wrong-arch | abi-mismatch
 * `ok` means it is intact and meant for this Node; whether LibTorch resolves is for dlopen to say
 * (`missing` explains a failure).
 */
function checkPrebuild(root, opts = {}) {
  const platform = opts.platform || process.platform;
  const arch = opts.arch || process.arch;
  const dir = prebuildDir(root, platform, arch);
  const file = path.join(dir, ADDON);
  if (!fs.existsSync(file)) return { present: false, file };
  const fail = (reason, why) => ({ present: true, ok: false, file, reason, why });
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8'));
  } catch (e) {
    return fail('corrupt', `${path.join(dir, MANIFEST)} is missing or not JSON (${e.message.split('\n')[0]})`);
  }
  const elf = elfCheck(file, arch);
  if (!elf.ok) return fail(elf.reason, elf.why);
  const size = fs.statSync(file).size;
  if (size !== manifest.size || sha256(file) !== manifest.sha256) return fail('corrupt', `${file} does not match its manifest (${size} bytes, sha256 differs from the one recorded at build time): the file is damaged`);
  const napi = Number(opts.napiVersion || process.versions.napi);
  if (manifest.napiVersion > napi) return fail('abi-mismatch', `${file} needs N-API ${manifest.napiVersion}; this Node has N-API ${napi}`);
  const sonames = (manifest.libtorch && manifest.libtorch.sonames) || [];
  const dirs = libraryDirs(opts.env || process.env, arch);
  const where = findSonames(sonames, dirs);
  const missing = sonames.filter((s) => where[s] === null);
  return { present: true, ok: true, file, manifest, missing, others: missing.length ? otherLibTorch(sonames, dirs) : [] };
}

module.exports = { ADDON, MANIFEST, ELF_MACHINES, prebuildDir, elfCheck, libraryDirs, findSonames, otherLibTorch, sha256, checkPrebuild, multiarch };

// `node scripts/prebuild-match.js --check` (package.json prepublishOnly): refuse to publish a
// package without an intact linux-x64 prebuild (`npm run prebuild` makes it).
if (require.main === module && process.argv.includes('--check')) {
  const c = checkPrebuild(path.resolve(__dirname, '..'), { platform: 'linux', arch: 'x64' });
  if (!c.present || !c.ok) {
    process.stderr.write(`prebuild-match: ${c.present ? c.why : `${c.file} is missing`}; run \`npm run prebuild\` before publishing\n`);
    process.exit(1);
  }
  process.stdout.write(`prebuild-match: ${path.relative(process.cwd(), c.file)} is intact (LibTorch ${c.manifest.libtorch.version}, N-API ${c.manifest.napiVersion})\n`);
}
