#!/usr/bin/env bash
# The pinned SAM CLI, with the pinned cargo-lambda and zig first on PATH, the aarch64 Rust target,
# and your own AWS credentials (not the dummy ones of the local scripts):
#
#   ./infra/sam.sh build                  # every function: one cargo lambda build --release --arm64
#                                         # of all binaries (infra/build-release.sh), then sam build
#   ./infra/sam.sh deploy --guided        # docs/operations.md "Deploy"
#   ./infra/sam.sh list stack-outputs --stack-name customer-wallets
set -euo pipefail
REAL_AWS=1
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# sam_cargo_env: SAM's Rust builder runs cargo-lambda in the CodeUri (the repository root), then
# copies <CodeUri>/target/lambda/<binary>/bootstrap. cargo-lambda builds wherever cargo's target
# directory is: CARGO_TARGET_DIR, CARGO_BUILD_TARGET_DIR or a cargo config's build.target-dir when
# the caller has one, and SAM would then package a stale bootstrap (or none). Build exactly where
# SAM reads, whatever the caller's environment holds (CARGO_TARGET_DIR overrides the other two).
sam_cargo_env() {
  export CARGO_TARGET_DIR="$ROOT/target"
  unset CARGO_BUILD_TARGET_DIR
}

# Sourced (tests/tests/routes.rs checks sam_cargo_env): define, run nothing.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  return 0
fi

cd "$ROOT"
sam_cargo_env
ensure_venv
ensure_rust_target aarch64-unknown-linux-gnu
export SAM_CLI_TELEMETRY="${SAM_CLI_TELEMETRY:-0}"
if [ "${1:-}" != build ]; then
  ensure_sam_tools
  exec "$SAM_VENV/bin/sam" "$@"
fi
# SAM's Rust builder runs one `cargo lambda build --bin <binary>` per function, one after the
# other: 37 cargo invocations that would each compile and link alone. Building every binary first
# in one invocation (dependencies once, binaries linked in parallel) leaves SAM's invocations
# nothing to do but find them fresh. A plain `sam build` gives the same artifacts, only slower.
# The SAM CLI installs (pip, mostly waiting on the network) while cargo compiles.
ensure_sam_tools &
tools=$!
"$ROOT/infra/build-release.sh"
wait "$tools" || { echo "installing the SAM CLI failed (see above)" >&2; exit 1; }
exec "$SAM_VENV/bin/sam" "$@"
