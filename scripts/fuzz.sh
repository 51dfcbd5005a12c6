#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/) for a bounded time each: `bash scripts/fuzz.sh [seconds]`
# (default 300). Not part of CI. A crash stops the run with the input under
# fuzz/artifacts/<target>/; fix it, then keep the input in fuzz/regressions/<target>/, which
# every run replays first.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT/fuzz"

seconds="${1:-300}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz 0.13.2"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
# libFuzzer's instrumentation takes unstable compiler flags; the stable toolchain allows them
# for this build only. No sanitizer: the project forbids unsafe code, and panics are the bugs;
# debug assertions (-a) make an arithmetic overflow one.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$HOME/.cache/gatehouse/fuzz-target"
for target in requests config_yaml stream_frames; do
  mkdir -p "corpus/$target" "regressions/$target"
  log "fuzzing $target for ${seconds}s"
  cargo fuzz run --sanitizer none -O -a "$target" "corpus/$target" "regressions/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096
done
log "every target ran ${seconds}s without a crash"
