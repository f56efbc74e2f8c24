#!/usr/bin/env bash
# Benchmarks against DynamoDB Local.
#   ./infra/bench.sh             capacity: read and write units per API operation
#   ./infra/bench.sh throughput  throughput: raw DynamoDB ceiling vs the API through the real
#                                handler (per-instance and shared), 1/8/64 writers, 1 and 1,000
#                                wallets, p50/p99; then verifies balances and chains. Built with
#                                --release. Settings: BENCH_SECONDS (per cell, default 8),
#                                BENCH_WALLETS (default 1000), BENCH_CONCURRENCY (default 1,8,64),
#                                BENCH_WARMUP_SECONDS (per mode, before the first cell, default 3).
#   ./infra/bench.sh webhooks    webhooks: commit → receiver latency (median/p90/p99/max) of
#                                sequential credits, then the dispatcher's delivered/s against the
#                                API's committed/s for a burst of credits (16 writers, 50
#                                customers); verifies every event arrived exactly once. Built with
#                                --release. Settings: BENCH_EVENTS (default 200), BENCH_BURST
#                                (default 1000), BENCH_WARMUP (credits, default 20),
#                                BENCH_TIMEOUT_SECONDS (default 120).
#   ./infra/bench.sh sweep       sweep: one scheduled sweep (auto top-ups and hold expiry) among
#                                many wallets of which a few need a top-up, against DynamoDB Local
#                                and localstripe: its time, report, and DynamoDB calls, RCU and
#                                WCU; then an idle sweep; then two sweeps at once on fresh due
#                                wallets; verifies each need was charged and credited once. Built
#                                with --release. Settings: BENCH_WALLETS (default 10000),
#                                BENCH_DUE (due wallets, default 10).
#   ./infra/bench.sh dashboard   dashboard pages: server time p50/p99 of each main page beside
#                                the JSON routes reading the same data (page / JSON ratio), their
#                                DynamoDB calls and RCU, a raw GetItem/Query floor, and each
#                                page's weight (gzip -9, HTML + CSS + JS). Built with
#                                --release. Settings: BENCH_REQUESTS (default 200),
#                                BENCH_WARMUP (rounds, default 20).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
MODE="${1:-capacity}"
case "$MODE" in
  capacity|throughput|webhooks|sweep|dashboard) ;;
  *) echo "usage: $0 [throughput|webhooks|sweep|dashboard]" >&2; exit 2 ;;
esac
DDB_PID="" LOCALSTRIPE_PID=""
trap 'stop $DDB_PID $LOCALSTRIPE_PID' EXIT
trap 'exit 130' INT TERM
ensure_tools
[ "$MODE" != sweep ] || ensure_localstripe
start_dynamodb_local "$(free_port)"
if [ "$MODE" = throughput ]; then
  # Release build: the bench measures the service's own code too, not debug overhead.
  cargo run --quiet --release -p integration-tests --bin throughput
elif [ "$MODE" = webhooks ]; then
  # Release build, as throughput. The dispatcher posts to a receiver on 127.0.0.1 (the harness
  # allows private targets).
  cargo run --quiet --release -p integration-tests --bin webhooks_bench
elif [ "$MODE" = sweep ]; then
  # Release build, as throughput. The top-ups charge localstripe (STRIPE_BASE_URL, exported by
  # start_localstripe).
  start_localstripe "$(free_port)"
  cargo run --quiet --release -p integration-tests --bin sweep_bench
elif [ "$MODE" = dashboard ]; then
  # Release build, as throughput.
  cargo run --quiet --release -p integration-tests --bin dashboard_bench
else
  cargo run --quiet -p integration-tests --bin capacity
fi
