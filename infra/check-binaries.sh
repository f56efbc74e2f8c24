#!/usr/bin/env bash
# Each route's binary (functions/<route>/, debug build in target/debug) links its own route's
# answer and no other route's: of the `<api::routes::endpoints::X as Endpoint>::respond` functions, it
# holds exactly its own. Run by the test command after `cargo build --workspace --bins`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
require nm "install binutils (nm reads the binaries' symbols)"
checked=0
while read -r route function; do
  binary="${CARGO_TARGET_DIR:-target}/debug/$function"
  [ -x "$binary" ] || { echo "missing $binary: build it first (cargo build --workspace --bins)" >&2; exit 1; }
  linked="$(nm -C "$binary" | { grep -oE 'api::routes::endpoints::[A-Za-z]+ as api::routes::Endpoint>::respond' || true; } \
    | sed -E 's/api::routes::endpoints::([A-Za-z]+) .*/\1/' | sort -u | tr '\n' ' ')"
  [ "$linked" = "$route " ] || { echo "$function links the answers of: ${linked:-none}(expected $route only)" >&2; exit 1; }
  checked=$((checked + 1))
done < <(sed -n 's|^ *\([A-Za-z]*\): "[A-Z]*" "[^"]*" => "\([a-z-]*\)",.*|\1 \2|p' api/src/routes/mod.rs)
[ "$checked" -gt 0 ] || { echo "no route found in api/src/routes/mod.rs" >&2; exit 1; }
log "each of the $checked route binaries links its own route's answer and no other's"
