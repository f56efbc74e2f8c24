#!/usr/bin/env bash
# Capacity benchmark: read and write units per API operation, against DynamoDB Local.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
DDB_PID=""
trap 'stop $DDB_PID' EXIT
trap 'exit 130' INT TERM
ensure_tools
start_dynamodb_local "$(free_port)"
cargo run --quiet -p integration-tests --bin capacity
