#!/usr/bin/env bash
# README command 1: installs what is missing, starts DynamoDB Local (data kept in .local/data) and
# localstripe (the local Stripe of auto top-ups, empty at each start), creates the table, serves
# every function at one base URL with `cargo lambda watch`, feeds the table's stream and the retry
# schedule to the webhook functions (local-streams, see lib.sh), then prints the base URL and a dev
# API key that works against this table (see below). Ctrl-C stops everything it started.
#
# Settings: API_PORT (default 9000), DDB_PORT (default 8000), STRIPE_PORT (default 8420, localstripe),
# TABLE_NAME (default customer-wallets), API_CONCURRENCY (default 4: instances per function, see
# infra/lib.sh), SWEEP_EVERY_S (default 5) and STREAM_START (default LATEST; see start_streams in
# infra/lib.sh).
#
# localstripe keeps nothing between runs (start_localstripe in infra/lib.sh) while the table does:
# a Stripe customer or payment method saved in an auto top-up setting during an earlier run is
# unknown to it, and that top-up fails until the setting names ones created in this run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

export TABLE_NAME="${TABLE_NAME:-customer-wallets}"
API_PORT="${API_PORT:-9000}"
DDB_PORT="${DDB_PORT:-8000}"
STRIPE_PORT="${STRIPE_PORT:-8420}"
# One key file per table: a key belongs to a business stored in one table.
KEY_FILE="$LOCAL/dev-key-$TABLE_NAME.env"
DDB_PID="" API_PID="" WATCH_PID="" STREAMS_PID="" LOCALSTRIPE_PID=""
trap 'stop $STREAMS_PID $API_PID $WATCH_PID $DDB_PID $LOCALSTRIPE_PID' EXIT
trap 'exit 130' INT TERM

ensure_tools
ensure_localstripe
# First: a busy STRIPE_PORT fails here, before DynamoDB Local and the build.
start_localstripe "$STRIPE_PORT"
start_dynamodb_local "$DDB_PORT" "$LOCAL/data"

log "building the functions (the first build of the AWS SDK takes a few minutes)"
cargo build --quiet --workspace --bins
# A table kept in .local/data by a version before ledger chunks is upgraded in place first (a
# no-op for a table in the current layout, or none).
cargo run --quiet -p admin -- upgrade-table "$TABLE_NAME"
cargo run --quiet -p admin -- create-table

start_api "$API_PORT"
BASE_URL="http://127.0.0.1:$API_PORT"

# key_status KEY: the HTTP status of GET /customers?page_size=1 with KEY (200, or 401 for a key
# the table does not know). Through the served API, so it checks what a client will meet.
key_status() {
  python3 - "$BASE_URL/customers?page_size=1" "$1" <<'PY'
import sys, urllib.error, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Authorization": f"Bearer {sys.argv[2]}"})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never an HTTP(S)_PROXY
try:
    print(opener.open(request, timeout=120).status)
except urllib.error.HTTPError as e:
    print(e.code)
except OSError as e:
    print(f"no answer ({e})")
PY
}

# Earlier versions kept one key for every table in .local/dev-key.env: adopt it for the table it
# works with.
if [ ! -s "$KEY_FILE" ] && [ -s "$LOCAL/dev-key.env" ]; then
  unset API_KEY BUSINESS_ID
  source "$LOCAL/dev-key.env"
  if [ "$(key_status "${API_KEY:-}")" = 200 ]; then mv "$LOCAL/dev-key.env" "$KEY_FILE"; fi
fi
# The kept key is reused only if the table still knows it: a table made anew (.local/data removed,
# the table deleted) has none of the old businesses, and the old key would answer 401 to every
# request.
if [ -s "$KEY_FILE" ]; then
  unset API_KEY BUSINESS_ID
  source "$KEY_FILE"
  status="$(key_status "${API_KEY:-}")"
  case "$status" in
    200) ;;
    401) log "the key in ${KEY_FILE#"$ROOT"/} is unknown to table $TABLE_NAME (its data was made anew): creating a new dev business"
         rm -f "$KEY_FILE" ;;
    *) echo "checking the dev key: GET /customers answered $status (expected 200 or 401)" >&2; exit 1 ;;
  esac
fi
if [ ! -s "$KEY_FILE" ]; then
  cargo run --quiet -p admin -- create-business "Dev business" >"$KEY_FILE.new"
  mv "$KEY_FILE.new" "$KEY_FILE"
  unset API_KEY BUSINESS_ID
  source "$KEY_FILE"
  status="$(key_status "${API_KEY:-}")"
  [ "$status" = 200 ] || { echo "the new dev key answers $status, not 200: is the API serving table $TABLE_NAME?" >&2; exit 1; }
fi

cat <<INFO

  Customer Wallets is running.
    base URL    $BASE_URL
    API key     $API_KEY      (business $BUSINESS_ID)
    DynamoDB    $DYNAMODB_ENDPOINT  (table $TABLE_NAME)
    Stripe      $STRIPE_BASE_URL  (localstripe, key $STRIPE_SECRET_KEY)
    dashboard   $BASE_URL/dashboard  (sign in with the API key above)
    mailbox     .local/mailbox/  (portal links sent with send_email=true land here, one file each)
    Stripe.js   $STRIPE_JS_URL  (card top-ups; localstripe sends its webhooks to $BASE_URL/stripe/webhooks)

  Try it with the Dodo SDK:
    .local/venv/bin/python -c 'from dodopayments import DodoPayments; c = DodoPayments(bearer_token="$API_KEY", base_url="$BASE_URL"); print(c.customers.create(email="ada@example.com", name="Ada"))'

  Ctrl-C stops DynamoDB Local, localstripe and the functions.
INFO
# Until the relay, cargo lambda watch or local-streams ends; the EXIT trap then stops the rest.
wait -n "$API_PID" "$WATCH_PID" "$STREAMS_PID"
