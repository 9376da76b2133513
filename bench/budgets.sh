#!/usr/bin/env bash
# The budget protocol under HTTP load: handshakes and reports per second against the bare baseline measured in the
# same run, beside a metering verify (the gateway's verify with usage) for its ratio. SQLite store.
# Usage: bench/budgets.sh [--quick]   (writes bench/results/<date>-budgets.md, or $RESULTS)
# Needs: the .NET SDK, curl, node (JSON), wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/bench/out
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
[[ "${1:-}" == "--quick" ]] && { DURATION=3s; ROUNDS=1; }
WORK=$(mktemp -d)
cleanup() { for f in "$WORK"/*.pid; do [[ -e "$f" ]] && kill "$(cat "$f")" 2>/dev/null; done; rm -rf "$WORK"; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is required: install it (Debian/Ubuntu: apt-get install wrk)" >&2; exit 1; }

echo "building Release..." >&2
dotnet publish src/Server -c Release -o "$OUT/server" --nologo -v q >/dev/null
dotnet publish bench/Baseline -c Release -o "$OUT/baseline" --nologo -v q >/dev/null

json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const o=JSON.parse(s);console.log($1)})"; }
start() {
  local name=$1 port=$2 dll=$3 ready=$4; shift 4
  env "$@" ASPNETCORE_URLS="http://127.0.0.1:$port" dotnet "$dll" >"$WORK/$name.log" 2>&1 &
  local pid=$!; echo "$pid" >"$WORK/$name.pid"
  # Readiness, not liveness: the bootstrap admin must exist before the script signs in (the baseline has only /api/health).
  until curl -fs "http://127.0.0.1:$port/api/health$ready" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.log" >&2; exit 1; }
    sleep 0.05
  done
}
wrk_run() {
  local url=$1; shift
  wrk -t2 -c"${CONNS:-32}" -d"$DURATION" --latency "$@" "$url" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ { rps=$2 } /^ +50%/ { p50=ms($2) } /^ +99%/ { p99=ms($2) }
    END { printf "%.2f %.2f %.2f\n", rps, p50, p99 }'
}
avg() { awk '{ r+=$1; a+=$2; b+=$3; n++ } END { printf "%.0f %.2f %.2f\n", r/n, a/n, b/n }'; }

start iron 7091 "$OUT/server/ironauth.dll" /ready IronAuth__Sqlite__Path="$WORK/bench.db" IronAuth__Bootstrap__AdminUsername=admin \
  IronAuth__Bootstrap__AdminPassword=bench-admin-orchid-lantern-42 IronAuth__Jwt__AccessTokenLifetime=1.00:00:00 \
  IronAuth__RateLimits__RequestsPerSecond=1000000 IronAuth__RateLimits__Burst=1000000 IronAuth__Budgets__LeaseLifetime=1.00:00:00 IronAuth__Tokens__MaxActivePerUser=1000
start base 7092 "$OUT/baseline/baseline.dll" ""
IRON=http://127.0.0.1:7091; BASE=http://127.0.0.1:7092

ACCESS=$(curl -fs "$IRON/api/auth/login" -H 'content-type: application/json' \
  -d '{"username":"admin","password":"bench-admin-orchid-lantern-42"}' | json o.access_token)
post() { curl -fs "$IRON/api/$1" -H "authorization: Bearer $2" -H 'content-type: application/json' -d "$3"; }
BUDGET=$(post budgets "$ACCESS" '{"name":"bench","allocation":1000000000}' | json o.id)
IC=$(post "budgets/$BUDGET/ic-tokens" "$ACCESS" '{"agent_id":"bench"}' | json o.token)
LEASE=$(post budgets/handshake "$IC" '{"requested_budget":100000000}' | json o.lease_id)
GATEWAY=$(post tokens "$ACCESS" '{"name":"gateway","scopes":["tokens:verify"]}' | json o.token)
: >"$WORK/tokens.txt"
for i in $(seq 1 50); do post tokens "$ACCESS" "{\"name\":\"user-$i\"}" | json o.token >>"$WORK/tokens.txt"; done

declare -A RESULT
pair() {
  local name=$1 url=$2; shift 2
  local b="" i=""
  for r in $(seq 1 "$ROUNDS"); do
    b+=$(wrk_run "$BASE/api/health")$'\n'
    i+=$(wrk_run "$url" "$@")$'\n'
  done
  RESULT[$name]="$(echo -n "$b" | avg) $(echo -n "$i" | avg)"
  echo "$name: ${RESULT[$name]}" >&2
}

# Verify and report take turns within each round, beside one baseline round: both ratios divide by the same baseline
# rounds (this VM's speed drifts by tens of percent within minutes, which moved the two ratios apart before).
b=""; v=""; rep=""
for r in $(seq 1 "$ROUNDS"); do
  b+=$(wrk_run "$BASE/api/health")$'\n'
  v+=$(BEARER=$GATEWAY TOKENS=$WORK/tokens.txt USAGE=1 wrk_run "$IRON" -s bench/wrk/verify.lua)$'\n'
  rep+=$(BEARER=$IC MODE=report LEASE=$LEASE wrk_run "$IRON" -s bench/wrk/budget.lua)$'\n'
done
RESULT[verify]="$(echo -n "$b" | avg) $(echo -n "$v" | avg)"
RESULT[report]="$(echo -n "$b" | avg) $(echo -n "$rep" | avg)"
echo "verify: ${RESULT[verify]}; report: ${RESULT[report]}" >&2
BEARER=$IC MODE=handshake pair handshake "$IRON" -s bench/wrk/budget.lua
SPENT=$(curl -fs "$IRON/api/budgets/$BUDGET" -H "authorization: Bearer $ACCESS" | json 'o.spent+" spent in "+o.open_leases+" open leases"')

RESULTS=${RESULTS:-$ROOT/bench/results/$(date -u +%F)-budgets.md}
{
  echo "# Budget protocol under load, $(date -u +%FT%RZ)"
  echo
  echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), SQLite store, $ROUNDS round(s) of $DURATION, ${CONNS:-32} connections."
  echo "Ratios are against the bare baseline (GET /api/health) measured in alternating rounds of the same run; verify and report"
  echo "share their baseline rounds (each round: baseline, verify, report)."
  echo
  echo "| scenario | baseline req/s | IronAuth req/s | ratio | IronAuth p50 ms | p99 ms |"
  echo "|---|---|---|---|---|---|"
  for name in verify report handshake; do
    read -r brps _ _ irps ip50 ip99 <<<"${RESULT[$name]}"
    label=$name
    [[ $name == verify ]] && label="verify with usage (gateway API token, 50 tokens)"
    [[ $name == report ]] && label="report (IC token, one lease, a new report_id each)"
    [[ $name == handshake ]] && label="handshake (IC token, a new lease each)"
    echo "| $label | $brps | $irps | $(awk -v a="$irps" -v b="$brps" 'BEGIN { printf "%.2f", a/b }') | $ip50 | $ip99 |"
  done
  echo
  echo "After the run the budget showed $SPENT."
} >"$RESULTS"
cat "$RESULTS"
