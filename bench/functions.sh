#!/usr/bin/env bash
# IronAuth.Functions against a bare isolated app (bench/BareFunctions), both real worker processes under the tests'
# stand-in Functions host: start to first 200, and GET /api/auth/me requests/s through the stand-in.
# Usage: bench/functions.sh [--quick]   (writes bench/results/<date>-functions.md, or $RESULTS)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/bench/out
ROUNDS=${ROUNDS:-7}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONNS=${CONNS:-16}
[[ "${1:-}" == "--quick" ]] && { ROUNDS=3; SECONDS_PER_RUN=3; }
RESULTS=${RESULTS:-$ROOT/bench/results/$(date -u +%F)-functions.md}

echo "building Release..." >&2
dotnet publish src/Functions -c Release -o "$OUT/functions" --nologo -v q >/dev/null
dotnet publish bench/BareFunctions -c Release -o "$OUT/bare-functions" --nologo -v q >/dev/null
dotnet build bench/IronAuth.Bench.Functions -c Release --nologo -v q >/dev/null

report=$(dotnet "$ROOT/bench/IronAuth.Bench.Functions/bin/Release/net10.0/IronAuth.Bench.Functions.dll" \
  --ironauth "$OUT/functions" --bare "$OUT/bare-functions" --rounds "$ROUNDS" --seconds "$SECONDS_PER_RUN" --connections "$CONNS" 2>"$OUT/functions-bench.log")

{
  echo "# Functions benchmarks $(date -u +%F)"
  echo
  echo "Machine: $(nproc) cores, $(dotnet --version) SDK; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Both apps run as real worker processes (Release) under the tests' stand-in Functions host, in the same run,"
  echo "alternating; ${ROUNDS} rounds of start-up, ${SECONDS_PER_RUN} s of load with ${CONNS} connections from HttpClient in the stand-in's process."
  echo
  echo "$report"
} >"$RESULTS"
cat "$RESULTS"
