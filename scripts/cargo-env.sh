# Sourced by the build and test scripts. Builds are cached outside the clone
# (cargo's fingerprints make sharing safe), so a fresh clone on a machine that
# built before does not start from nothing.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rocketchat-sns-analytics/target}"
