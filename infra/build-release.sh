#!/usr/bin/env bash
# Release build of every function binary for Lambda (provided.al2023, arm64) with `cargo lambda
# build`, the way `sam build` builds them: target/lambda/<binary>/bootstrap. Three binaries:
# http-api (every route's function runs it), webhook-dispatcher and sweep. Prints the time and
# the sizes.
#
# Installs what is missing: cargo-lambda and zig (PyPI, .local/venv) and the Rust standard library
# for aarch64-unknown-linux-gnu (rustup).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_rust_target aarch64-unknown-linux-gnu

packages=()
for dir in functions/*/; do packages+=(-p "$(basename "$dir")"); done

log "cargo lambda build --release --arm64 ($((${#packages[@]} / 2)) binaries; profile.release in Cargo.toml)"
started=$(date +%s)
cargo lambda build --release --arm64 "${packages[@]}"
log "built in $(($(date +%s) - started)) s"

for dir in functions/*/; do
  function="$(basename "$dir")"
  bootstrap="target/lambda/$function/bootstrap"
  [ -f "$bootstrap" ] || { echo "missing $bootstrap" >&2; exit 1; }
  printf '%-22s %9s bytes\n' "$function" "$(stat -c %s "$bootstrap")"
done
