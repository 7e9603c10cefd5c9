#!/usr/bin/env bash
# Runs one fuzz target for SECONDS: `fuzz/run.sh NAME SECONDS`. Its corpus grows in
# fuzz/corpus/NAME (seeds read from fuzz/seeds/NAME, see seed.sh), crashes land in
# fuzz/artifacts/NAME, the log in fuzz/logs/NAME.log (none of these is committed).
#
# cargo-fuzz needs nightly-only rustc flags (sanitizers, coverage passes); the pinned stable
# toolchain accepts them with RUSTC_BOOTSTRAP=1. A hang (-timeout, seconds per input) and a
# blow-up (-rss_limit_mb) are crashes too. One job, one core.
set -euo pipefail
cd "$(dirname "$0")/.."

name=$1
seconds=${2:-60}
case $name in
    # 1 MiB is the default event size limit: a little more finds the limit's edge.
    event | fluent_bit) max_len=1100000 dict=json ;;
    state) max_len=1100000 dict=json ;;
    config) max_len=65536 dict=json ;;
    eql) max_len=65536 dict=eql ;;
    rules) max_len=262144 dict=rules ;;
    *) echo "unknown fuzz target: $name (event eql rules config state fluent_bit)" >&2; exit 2 ;;
esac
[ -d "fuzz/seeds/$name" ] || fuzz/seed.sh
mkdir -p "fuzz/corpus/$name" fuzz/logs
RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz "$name" "fuzz/corpus/$name" "fuzz/seeds/$name" -- \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len="$max_len" \
    -dict="fuzz/dict/$dict.dict" -print_final_stats=1 2>&1 | tee "fuzz/logs/$name.log"
