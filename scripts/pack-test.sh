#!/usr/bin/env bash
# The npm package as a new user gets it (run by .ci/run; `npm run pack-test`):
#   1. npm run prebuild, npm pack
#   2. a fresh folder: npm install --ignore-scripts ./momentum-ssl-*.tgz with MOMENTUM_SSL_NO_APT=1
#      and a PATH that holds node, npm, npx and sh only (no compiler, no cmake), then
#      `npx momentum-ssl info`, a 3-step `pretrain`, `embed`, exportStateDict from the API and
#      `npx momentum-ssl demo --quick` (the main job, ~1 min)
#   3. another fresh folder, install scripts on: the log says the prebuild is used, nothing compiles
#   4. the prebuild corrupted: require gives the NativeLoadError naming the fix; `npm rebuild` with
#      no compiler stops with the clear error (PACK_TEST_SOURCE_BUILD=1: also a real source build
#      with the compiler on PATH, ~6 min on 2 cores)
# Prints the measured install times. Needs: Debian's libtorch1.13 (runtime) on this machine, the
# npm registry (or a warm npm cache), and for step 1 libtorch-dev, cmake and g++.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/mssl-pack-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
say() { printf '\npack-test: %s\n' "$*"; }
fail() { printf '\npack-test: FAILED: %s\n' "$*" >&2; exit 1; }
secs() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

T_START=$(secs)
say "building the prebuild (incremental after npm ci)"
t0=$(secs)
node scripts/prebuild.js
say "prebuild took $(elapsed "$t0" "$(secs)") s"
npm pack --pack-destination "$WORK" >"$WORK/pack.log"
TGZ=$(ls "$WORK"/momentum-ssl-*.tgz)
say "packed $(basename "$TGZ"): $(du -k "$TGZ" | cut -f1) KiB, $(tar tzf "$TGZ" | wc -l) files"
# The tarball carries what users run and nothing else.
tar tzf "$TGZ" >"$WORK/files.txt"
for want in package/dist/index.js package/dist/cli/index.js package/prebuilds/linux-x64/momentum_ssl.node package/prebuilds/linux-x64/momentum_ssl.json \
  package/scripts/install.js package/scripts/find-libtorch.js package/scripts/prebuild-match.js package/CMakeLists.txt package/LICENSE package/native/core/ema.cc; do
  [ "$(uname -m)" = x86_64 ] || [[ "$want" != *linux-x64* ]] || continue
  grep -qx "$want" "$WORK/files.txt" || fail "the tarball lacks $want"
done
if grep -E 'bench|\.py$|reproduce|/test/|scripts/dev|demo\.ts|step-phases|prebuild\.js|pack-test|\.map$' "$WORK/files.txt"; then fail "the tarball carries the files above, which users do not run"; fi

# A PATH with no compiler and no cmake: symlinks to node, npm, npx and sh only.
BIN="$WORK/bin"
mkdir -p "$BIN"
for t in node npm npx sh; do ln -s "$(command -v "$t")" "$BIN/$t"; done
export MOMENTUM_SSL_NO_APT=1
# Only HOME, the clean PATH and npm's own settings (a registry mirror, a proxy) pass through.
KEEP=()
while IFS= read -r v; do KEEP+=("$v"); done < <(env | grep -iE '^(npm_config_(registry|cache|proxy|https_proxy|noproxy|cafile|strict_ssl)|https?_proxy|no_proxy)=' || true)
clean() { env -i HOME="$HOME" PATH="$BIN" MOMENTUM_SSL_NO_APT=1 OMP_WAIT_POLICY=PASSIVE "${KEEP[@]}" "$@"; }
for t in cc c++ g++ gcc cmake make; do
  if clean sh -c "command -v $t" >/dev/null; then fail "$t is on the clean PATH"; fi
done

# fresh_install DIR NPM-FLAG...: a new project in DIR (cd there), the tarball installed with the
# clean PATH; its time in $T_INSTALL, npm's output in DIR/install.log; nothing may be built.
fresh_install() {
  mkdir -p "$1"
  cd "$1"
  shift
  clean npm init -y >/dev/null
  local t0
  t0=$(secs)
  clean npm install "$@" --no-audit --no-fund "$TGZ" >install.log 2>&1 || { cat install.log; fail "npm install $*"; }
  T_INSTALL=$(elapsed "$t0" "$(secs)")
  [ ! -e node_modules/momentum-ssl/build ] || fail "npm install $* made a build/ folder"
}

say "install, scripts off, no compiler on PATH"
fresh_install "$WORK/app-noscripts" --ignore-scripts
T_NOSCRIPTS=$T_INSTALL
say "installed in $T_NOSCRIPTS s"
clean npx momentum-ssl info | tee info.txt
grep -q 'prebuilt, shipped in the package' info.txt || fail "info does not report the prebuilt addon"
clean npx momentum-ssl pretrain --dataset mnist --method simclr --ema projector --steps 3 --batch-size 16 \
  --width 0.125 --subset 256 --out run >pretrain.log 2>&1 || { cat pretrain.log; fail "pretrain"; }
[ -s run/checkpoint.pt ] && [ -s run/backbone.pt ] || fail "pretrain wrote no checkpoint.pt / backbone.pt"
clean npx momentum-ssl embed --checkpoint run --split test --subset 64 --output feats.npy >embed.log 2>&1 || { cat embed.log; fail "embed"; }
clean node -e "
const fs = require('fs');
const b = fs.readFileSync('feats.npy');
if (b.slice(1, 6).toString() !== 'NUMPY') throw new Error('feats.npy is not .npy');
const m = require('momentum-ssl');
const model = m.SslModel.create(m.configFor('simclr', { ema: 'projector' }, { backbone: { width: 0.125 } }));
model.exportStateDict('export.pt').then((p) => { model.dispose(); if (!(fs.statSync(p).size > 0)) throw new Error('empty export'); console.log('exportStateDict wrote ' + p); });
" || fail "exportStateDict from the API"
# The main job, from dist/ (no ts-node in the install).
[ ! -e node_modules/ts-node ] || fail "ts-node was installed with the package"
t0=$(secs)
clean npx momentum-ssl demo --quick --out demo >demo.log 2>&1 || { tail -20 demo.log; fail "demo --quick"; }
grep -E '^(learned|raw pixels)' demo.log
[ -s demo/report.html ] || fail "demo wrote no report.html"
say "demo --quick took $(elapsed "$t0" "$(secs)") s"
cd "$ROOT"

say "install, scripts on, no compiler on PATH"
fresh_install "$WORK/app-scripts" --foreground-scripts
T_SCRIPTS=$T_INSTALL
grep 'momentum-ssl:' install.log || true
grep -q 'momentum-ssl: using the prebuilt prebuilds/' install.log || fail "the install log does not say the prebuild is used"
if grep -qE 'cmake-js|Building CXX' install.log; then fail "the install compiled something"; fi
say "installed in $T_SCRIPTS s, prebuild used"

say "a corrupted prebuild"
P=node_modules/momentum-ssl/prebuilds/linux-$(node -p process.arch)/momentum_ssl.node
chmod u+w "$P"
printf 'garbage!' | dd of="$P" bs=1 seek=4096 conv=notrunc status=none
set +e
clean npx momentum-ssl info >corrupt.out 2>corrupt.err
rc=$?
set -e
cat corrupt.err
[ "$rc" = 1 ] || fail "info with a corrupted prebuild exited $rc"
grep -q 'does not match its manifest' corrupt.err || fail "no corrupt-prebuild reason"
grep -q 'apt-get install libtorch1.13' corrupt.err && grep -q 'npm rebuild momentum-ssl' corrupt.err || fail "the error does not name both ways out"
set +e
clean npm rebuild momentum-ssl --foreground-scripts >rebuild.log 2>&1
rc=$?
set -e
grep 'momentum-ssl' rebuild.log | tail -4
[ "$rc" != 0 ] || fail "npm rebuild without a compiler succeeded?"
grep -qE "'(cmake|g\+\+)' is needed to build the addon|LibTorch was not found" rebuild.log || fail "npm rebuild without a compiler gave no clear error"
if [ "${PACK_TEST_SOURCE_BUILD:-0}" = 1 ]; then
  say "source build with the compiler on PATH"
  t0=$(secs)
  env MOMENTUM_SSL_NO_APT=1 npm rebuild momentum-ssl --foreground-scripts >source.log 2>&1 || { tail -30 source.log; fail "source build"; }
  say "source build took $(elapsed "$t0" "$(secs)") s"
  clean npx momentum-ssl info | grep -q 'built here from source' || fail "info does not report the source build"
fi
cd "$ROOT"

say "OK: install with scripts off $T_NOSCRIPTS s, with scripts on $T_SCRIPTS s (prebuild used, nothing compiled); pack-test took $(elapsed "$T_START" "$(secs)") s"
