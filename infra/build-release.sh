#!/usr/bin/env bash
# Release build of every function binary for Lambda (provided.al2023, arm64) in ONE `cargo lambda
# build`, so that the dependencies compile once and the binaries link in parallel:
# target/lambda/<binary>/bootstrap, where `sam build` takes them (infra/sam.sh runs this first;
# SAM's own per-function `cargo lambda build --bin <binary>` then finds each one fresh). The same
# flags as SAM's (`--release --arm64 --bin ...`, every workspace member selected), so that cargo
# resolves the same features and SAM's builds rebuild nothing. Prints the time and the sizes.
#
# Installs what is missing: cargo-lambda and zig (PyPI, .local/venv) and the Rust standard library
# for aarch64-unknown-linux-gnu (rustup).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_rust_target aarch64-unknown-linux-gnu

binaries=()
for dir in functions/*/; do binaries+=(--bin "$(basename "$dir")"); done

log "cargo lambda build --release --arm64 ($((${#binaries[@]} / 2)) binaries; profile.release in Cargo.toml)"
started=$(date +%s)
cargo lambda build --release --arm64 "${binaries[@]}"
log "built in $(($(date +%s) - started)) s"

total=0
for dir in functions/*/; do
  function="$(basename "$dir")"
  bootstrap="${CARGO_TARGET_DIR:-target}/lambda/$function/bootstrap"
  [ -f "$bootstrap" ] || { echo "missing $bootstrap" >&2; exit 1; }
  size="$(stat -c %s "$bootstrap")"
  total=$((total + size))
  printf '%-30s %9s bytes\n' "$function" "$size"
done
printf '%-30s %9s bytes\n' "(all)" "$total"
