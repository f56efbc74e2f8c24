#!/usr/bin/env bash
# README command 2: installs what is missing, checks template.yaml with `sam validate` and cfn-lint,
# starts DynamoDB Local and localstripe (the local Stripe of auto top-ups; STRIPE_BASE_URL for the
# tests and the functions) on free ports, runs the unit and integration tests, then the official Dodo
# Python and Node SDKs against the API served by `cargo lambda watch` (API_CONCURRENCY instances per
# function, behind the relay of lib.sh), the export path's query with DuckDB, then the merchant
# dashboard in headless chromium (tests/browser: Playwright and axe-core), then schemathesis against
# the same API with openapi.yaml, and stops everything it started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DDB_PID="" API_PID="" WATCH_PID="" STREAMS_PID="" LOCALSTRIPE_PID=""
trap 'stop $STREAMS_PID $API_PID $WATCH_PID $DDB_PID $LOCALSTRIPE_PID' EXIT
trap 'exit 130' INT TERM

ensure_tools
ensure_fuzzer
ensure_sam_tools
ensure_localstripe
ensure_browser

# Offline: lib.sh set dummy credentials and turned off the EC2 metadata look-up; the template names
# no AWS managed policy by name (its own, RecordKeyUsePolicy and EndKeyPolicy, are `!Ref`s), so
# `sam validate` asks IAM nothing.
log "template.yaml: sam validate (the SAM transform) and cfn-lint (CloudFormation's schemas and rules)"
SAM_CLI_TELEMETRY=0 "$SAM_VENV/bin/sam" validate --region us-east-1 --template template.yaml
"$SAM_VENV/bin/cfn-lint" template.yaml

start_dynamodb_local "$(free_port)"
# Running until the end: the Rust tests read STRIPE_BASE_URL, and the functions served for the SDK
# tests get it in start_api's env file.
start_localstripe "$(free_port)"

log "unit and integration tests (cargo test --workspace)"
cargo test --workspace --all-targets

log "a fresh DynamoDB Local for the SDK tests and the fuzzing"
# DynamoDB Local keeps every stream record of the Rust tests for 24 hours and, on each call to a
# table whose stream began after them, walks them all (docs/testing.md, "DynamoDB Local's stream
# records"): the SDK table would pay for every record the tests made.
stop $DDB_PID
start_dynamodb_local "$(free_port)"

log "Dodo Python SDK against the local API"
export TABLE_NAME="customer-wallets-sdk"
# The portal of the API under test: a key of this run only, and a mailbox of its own that the SDK
# tests read (send_email=true).
export PORTAL_SIGNING_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export MAILBOX_DIR="$LOCAL/test-mailbox"
rm -rf "$MAILBOX_DIR"
cargo build --quiet --workspace --bins
"$ROOT/infra/check-binaries.sh"
cargo run --quiet -p admin -- create-table
eval "$(cargo run --quiet -p admin -- create-business "SDK test business")"
API_PORT="$(free_port)"
# DynamoDB Local shares the 2 cores with the fuzzer, four API processes and a sweep that retries
# hundreds of deliveries to the fuzzed (unreachable) endpoints: single calls have stalled past
# the production 5 s budget and answered 503. The API under test gets 20 s per call; the 503
# itself is proven by tests/tests/store_failures.rs.
export API_DYNAMODB_TIMEOUT_SECONDS=20
# The functions' logs, searched for secrets at the end (and shown in part if a step fails).
export API_LOG="$LOCAL/api-test.log"
: >"$API_LOG"
trap 'status=$?; if [ "$status" -ne 0 ] && [ -s "$API_LOG" ]; then echo "--- last lines of $API_LOG ---"; tail -n 60 "$API_LOG"; fi; stop $API_PID $WATCH_PID $STREAMS_PID $DDB_PID $LOCALSTRIPE_PID' EXIT
start_api "$API_PORT" --ignore-changes --quiet
export DODO_BASE_URL="http://127.0.0.1:$API_PORT" DODO_API_KEY="$API_KEY"
# The races in the SDK tests must run through several instances of a function: the Python test
# checks, from /proc, that several processes served by WATCH_PORT took part.
DODO_LOCAL_WATCH_PORT="$WATCH_PORT" DODO_LOCAL_CONCURRENCY="$API_CONCURRENCY" "$VENV/bin/python" tests/sdk/dodo_sdk_test.py
log "Dodo Python SDK: webhooks (client.webhooks, deliveries from the local stream, unwrap)"
"$VENV/bin/python" tests/sdk/dodo_sdk_webhooks_test.py
log "Dodo Node SDK against the local API"
# ES modules resolve imports next to the script, so run a copy beside the installed SDK.
cp tests/sdk/dodo_sdk_test.mjs "$LOCAL/node-sdk/" && node "$LOCAL/node-sdk/dodo_sdk_test.mjs"
cp tests/sdk/dodo_sdk_webhooks_test.mjs "$LOCAL/node-sdk/" && node "$LOCAL/node-sdk/dodo_sdk_webhooks_test.mjs"

log "the export path: the table as DynamoDB's export to S3 writes it, docs/athena/ledger_totals.sql run by DuckDB"
rm -rf "$LOCAL/export" && mkdir -p "$LOCAL/export"
EXPORT_DIR="$LOCAL/export" "$VENV/bin/python" tests/export/duckdb_export_test.py

log "the merchant dashboard in a real browser (headless chromium, Playwright, axe-core)"
# One browser and one tab through every flow; a screenshot of each page in .local/screenshots.
# It creates its own customers and keys and rotates none but its own: the dev key stays valid.
rm -rf "$LOCAL/screenshots"
BROWSER_FLOWS_ALL=1 CHROMIUM="$CHROMIUM" AXE_JS="$AXE_JS" SCREENSHOT_DIR="$LOCAL/screenshots" \
  "$BROWSER_VENV/bin/python" tests/browser/dashboard_test.py

log "the customer portal and top-up links in a real browser (card top-ups through localstripe's Stripe.js and its webhooks)"
CHROMIUM="$CHROMIUM" AXE_JS="$AXE_JS" SCREENSHOT_DIR="$LOCAL/screenshots" \
  "$BROWSER_VENV/bin/python" tests/browser/portal_test.py

log "schemathesis against the local API (openapi.yaml)"
# FUZZ_SEED and FUZZ_MAX_EXAMPLES explore further; the defaults keep the run short and repeatable.
# Requests may take up to 29 s, API Gateway's limit (schemathesis's default is 10 s): a resend
# makes its webhook attempt (up to 10 s) while the fuzzer, four API processes, the deliverer and
# the sweep share 2 cores with DynamoDB Local; a fresh-clone run saw one resend answer in 11.1 s.
# Not checked: positive_data_acceptance (valid requests rightly get 400, 404, 409 or 422 for the
# state they meet) and unsupported_method (routing is API Gateway's, which answers 404, not 405).
mkdir -p "$LOCAL/fuzz"
python3 tests/fuzz/seed.py "$DODO_BASE_URL" "$API_KEY" "$LOCAL/fuzz"
FUZZ_BASE_URL="$DODO_BASE_URL" FUZZ_API_KEY="$API_KEY" HYPOTHESIS_STORAGE_DIRECTORY="$LOCAL/fuzz/hypothesis" \
  "$FUZZ_VENV/bin/st" --no-color --config-file tests/fuzz/schemathesis.toml run openapi.yaml \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,ignored_auth,missing_required_header \
  --max-examples "${FUZZ_MAX_EXAMPLES:-50}" --seed "${FUZZ_SEED:-20261123}" --request-timeout 29

log "no secret in the functions' logs (API keys, webhook secrets, the Stripe key, the portal key and tokens)"
# The SDK tests print nothing secret; the functions must not log one either.
for secret in "$API_KEY" "$STRIPE_SECRET_KEY" "$PORTAL_SIGNING_KEY" "${STRIPE_WEBHOOK_SECRET:-}"; do
  [ -n "$secret" ] || continue
  if grep -qF -- "$secret" "$API_LOG"; then echo "a secret appears in $API_LOG" >&2; exit 1; fi
done
if grep -qE 'cw_[0-9a-f]{64}|whsec_[A-Za-z0-9+/=]{20,}' "$API_LOG"; then
  echo "an API key or a webhook secret appears in $API_LOG:" >&2
  grep -nE 'cw_[0-9a-f]{64}|whsec_[A-Za-z0-9+/=]{20,}' "$API_LOG" | head -5 >&2
  exit 1
fi
if grep -qE 'portal/session\?token=|[?&]token=[A-Za-z0-9_-]{20,}\.' "$API_LOG"; then
  echo "a portal link or token appears in $API_LOG" >&2
  exit 1
fi
test -s "$API_LOG" || { echo "$API_LOG is empty: the search above proved nothing" >&2; exit 1; }

log "all tests passed"
