#!/usr/bin/env bash
# `npm run test:platforms`: builds the addon for the Linux platforms beside this
# machine's own (Alpine musl on amd64 and arm64, as Rocket.Chat's official image runs,
# and arm64 glibc) and runs them here, on the Nodes they ship with:
#
#   linux-x64-musl    Node 22.16.0 (musl)   the smoke test, then every node test file
#   linux-arm64-gnu   Node 22.18.0 (qemu)   the smoke test, then the logger, process
#                                           exit, spool and fault files
#   linux-arm64-musl  Node 22.16.0 (musl,   the same as arm64 glibc
#                     qemu)
#
# Tests that cannot run on a platform skip themselves and say why
# (__test__/helpers/platform.js). Debug builds (PLATFORMS_PROFILE=release for release
# ones): they build in half the time or less and pass the same tests. Binaries go to
# dist/platforms/<target>/. Prints each target's build and test times and the .node's
# size at the end. scripts/setup-platforms.sh says where each tool comes from.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/setup-debian.sh chromium /usr/bin/chromium "the browser test (playwright-core drives it)"
eval "$(bash scripts/setup-platforms.sh)"
export PATH="$ZIG_BIN:$PATH"

profile="${PLATFORMS_PROFILE:-debug}"
profile_flag=()
if [ "$profile" = "release" ]; then profile_flag=(--release); fi
# Other targets' standard library is built from Debian's rust-web-src by Debian's
# rustc (rustup has only this machine's); its own target dir, so that the host
# builds' cache is left alone.
cross_env=(
  RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort
  CARGO_TARGET_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/rocketchat-sns-analytics/target-platforms"
  # napi sets no linker for a plain cross build; zig is the linker of the -x builds.
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
  CARGO_TERM_QUIET=true
)

# target, napi's platform name, the Node that runs it, napi flags beyond the target
platforms=(
  "x86_64-unknown-linux-musl linux-x64-musl $NODE_X64_MUSL -x"
  "aarch64-unknown-linux-gnu linux-arm64-gnu $NODE_ARM64_GNU"
  "aarch64-unknown-linux-musl linux-arm64-musl $NODE_ARM64_MUSL -x"
)
# The files each arm64 Node runs under qemu, where every test takes several times as
# long: the core of the contract, process exit, the spool on disk, and faults.
EMULATED_FILES=(__test__/logger.test.js __test__/process-exit.test.js __test__/spool-faults.test.js __test__/faults.test.js)

summary=()
now() { date +%s; }
for entry in "${platforms[@]}"; do
  read -r target platform node flags <<<"$entry"
  out="dist/platforms/$target"
  binary="$out/rocketchat-sns-analytics.$platform.node"
  echo "== build $target ($profile)"
  start=$(now)
  rm -rf "$out"
  # shellcheck disable=SC2086 # flags: zero or one word
  env "${cross_env[@]}" npx napi build --platform --target "$target" $flags "${profile_flag[@]}" --no-js --output-dir "$out" >/dev/null
  built=$(now)

  # Here /usr/bin/ldd is glibc's, so binding.js would pick the gnu binary for a musl
  # Node; on Alpine its check reads musl's ldd and finds this file by its name.
  export NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/$binary"
  echo "== smoke test of $target on $("$node" -p 'process.version + " " + process.arch')"
  "$node" scripts/smoke-test.js
  if [ "$target" = "x86_64-unknown-linux-musl" ]; then
    echo "== node --test on $target (every file; skips say why)"
    "$node" --test --test-reporter=spec __test__/*.test.js
  else
    echo "== node --test on $target under qemu (${EMULATED_FILES[*]})"
    "$node" --test --test-reporter=spec "${EMULATED_FILES[@]}"
  fi
  unset NAPI_RS_NATIVE_LIBRARY_PATH
  tested=$(now)
  size=$(stat -c %s "$binary")
  summary+=("$(printf '%-28s build %4ss  test %4ss  %s .node %s bytes' "$target" $((built - start)) $((tested - built)) "$profile" "$size")")
done

echo "== platforms"
printf '%s\n' "${summary[@]}"
