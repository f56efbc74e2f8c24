#!/usr/bin/env bash
# README command 2: installs what is missing, checks template.yaml with `sam validate` and cfn-lint,
# starts DynamoDB Local on a free port, runs the unit and integration tests, then the official Dodo
# Python and Node SDKs against the API served by `cargo lambda watch`, and stops everything it
# started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DDB_PID="" API_PID=""
trap 'stop $API_PID $DDB_PID' EXIT
trap 'exit 130' INT TERM

ensure_tools
ensure_sam_tools

# Offline: lib.sh set dummy credentials and turned off the EC2 metadata look-up; the template names
# no managed policy, so `sam validate` asks IAM nothing.
log "template.yaml: sam validate (the SAM transform) and cfn-lint (CloudFormation's schemas and rules)"
SAM_CLI_TELEMETRY=0 "$SAM_VENV/bin/sam" validate --region us-east-1 --template template.yaml
"$SAM_VENV/bin/cfn-lint" template.yaml

start_dynamodb_local "$(free_port)"

log "unit and integration tests (cargo test --workspace)"
cargo test --workspace --all-targets

log "Dodo Python SDK against the local API"
export TABLE_NAME="customer-wallets-sdk"
cargo build --quiet --workspace --bins
cargo run --quiet -p admin -- create-table
eval "$(cargo run --quiet -p admin -- create-business "SDK test business")"
API_PORT="$(free_port)"
start_api "$API_PORT" --ignore-changes --quiet
export DODO_BASE_URL="http://127.0.0.1:$API_PORT" DODO_API_KEY="$API_KEY"
"$VENV/bin/python" tests/sdk/dodo_sdk_test.py
log "Dodo Node SDK against the local API"
# ES modules resolve imports next to the script, so run a copy beside the installed SDK.
cp tests/sdk/dodo_sdk_test.mjs "$LOCAL/node-sdk/" && node "$LOCAL/node-sdk/dodo_sdk_test.mjs"

log "all tests passed"
