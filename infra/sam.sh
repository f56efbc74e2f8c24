#!/usr/bin/env bash
# The pinned SAM CLI, with the pinned cargo-lambda and zig first on PATH, the aarch64 Rust target,
# and your own AWS credentials (not the dummy ones of the local scripts):
#
#   ./infra/sam.sh build                  # every function: cargo lambda build --release --arm64
#   ./infra/sam.sh deploy --guided        # README "Deploy"
#   ./infra/sam.sh list stack-outputs --stack-name customer-wallets
set -euo pipefail
REAL_AWS=1
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_venv
ensure_rust_target aarch64-unknown-linux-gnu
ensure_sam_tools
export SAM_CLI_TELEMETRY="${SAM_CLI_TELEMETRY:-0}"
exec "$SAM_VENV/bin/sam" "$@"
