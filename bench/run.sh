#!/usr/bin/env bash
# HTTP load benchmarks: IronAuth against a bare ASP.NET Core baseline, measured in the same run.
# Usage: bench/run.sh [--quick] [--verify]   (writes bench/results/<date>.md, or $RESULTS)
#   --verify: the request scenarios only (1-4, 7 and 10), without login, isolation, start-up and instrumentation (5, 6, 8, 9).
# Needs: the .NET SDK, curl, node (JSON), wrk (installed with apt-get when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/bench/out
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
FULL=yes
for arg in "$@"; do
  case $arg in
    --quick) DURATION=3s; ROUNDS=1 ;;
    --verify) FULL="" ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d)
cleanup() { for f in "$WORK"/*.pid; do [[ -e "$f" ]] && kill "$(cat "$f")" 2>/dev/null; done; rm -rf "$WORK"; }
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is required: install it (Debian/Ubuntu: apt-get install wrk)" >&2; exit 1
  fi
fi

echo "building Release..." >&2
dotnet publish src/Server -c Release -o "$OUT/server" --nologo -v q >/dev/null
dotnet publish bench/Baseline -c Release -o "$OUT/baseline" --nologo -v q >/dev/null
dotnet build bench/IronAuth.Benchmarks -c Release --nologo -v q >/dev/null
BENCH="dotnet $ROOT/bench/IronAuth.Benchmarks/bin/Release/net10.0/IronAuth.Benchmarks.dll"

json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const o=JSON.parse(s);console.log($1)})"; }
now_ms() { date +%s%3N; }

# start NAME PORT DLL [ENV...]: starts a server, waits for its first 200, prints ms from start to that 200.
start() {
  local name=$1 port=$2 dll=$3; shift 3
  local t0; t0=$(now_ms)
  env "$@" ASPNETCORE_URLS="http://127.0.0.1:$port" dotnet "$dll" >"$WORK/$name.log" 2>&1 &
  local pid=$!; echo "$pid" >"$WORK/$name.pid"
  until curl -fs "http://127.0.0.1:$port/api/health" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.log" >&2; exit 1; }
    sleep 0.01
  done
  echo $(( $(now_ms) - t0 ))
}
stop() {
  local pid; pid=$(cat "$WORK/$1.pid"); rm -f "$WORK/$1.pid"
  kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

# wrk_run URL [wrk args...] -> "rps p50ms p99ms requests"
wrk_run() {
  local url=$1; shift
  wrk -t2 -c"${CONNS:-32}" -d"$DURATION" --latency "$@" "$url" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ { rps=$2 } /^ +50%/ { p50=ms($2) } /^ +99%/ { p99=ms($2) } / requests in / { n=$1 }
    END { printf "%.2f %.2f %.2f %d\n", rps, p50, p99, n }'
}
# median of each column over the rounds (one "rps p50 p99" line per round)
medians() { awk '{ for (c = 1; c <= 3; c++) v[c, NR] = $c } END {
  for (c = 1; c <= 3; c++) { n = 0; for (r = 1; r <= NR; r++) a[++n] = v[c, r]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    m[c] = n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
  printf "%.0f %.2f %.2f\n", m[1], m[2], m[3] }'; }
# CPU time (user + system) a process has used, in microseconds
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($14 + $15) * 1000000 / hz }' "/proc/$1/stat"; }

IRON_ENV=(IronAuth__Sqlite__Path="$WORK/bench.db" IronAuth__Bootstrap__AdminUsername=admin
  IronAuth__Bootstrap__AdminPassword=bench-admin-orchid-lantern-42 IronAuth__Login__PerIpPerMinute=1000000
  IronAuth__Jwt__AccessTokenLifetime=1.00:00:00 IronAuth__RateLimits__RequestsPerSecond=1000000
  IronAuth__RateLimits__Burst=1000000 IronAuth__Tokens__MaxActivePerUser=1000)
SERVER_DLL=$OUT/server/ironauth.dll
BASE_DLL=$OUT/baseline/baseline.dll

# 8. start to first 200 (median of 7 each), measured first, on a quiet machine (a restart right after the load
#    phases absorbs what they leave behind): a restart on an existing store (the first, unmeasured start creates it
#    and its admin), and a first start that also creates the schema and generates the signing key. Restarts and
#    baseline starts alternate, like the load rounds, so that drift hits both alike.
median() { sort -n | awk '{ a[NR]=$1 } END { print a[int((NR+1)/2)] }'; }
if [[ -n "$FULL" ]]; then
start s 7083 "$SERVER_DLL" "${IRON_ENV[@]}" >/dev/null; stop s
for i in 1 2 3 4 5 6 7; do
  start s 7083 "$SERVER_DLL" "${IRON_ENV[@]}" >>"$WORK/starts-iron.txt"; stop s
  start s 7083 "$BASE_DLL" >>"$WORK/starts-base.txt"; stop s
done
STARTS_IRON=$(median <"$WORK/starts-iron.txt")
STARTS_BASE=$(median <"$WORK/starts-base.txt")
STARTS_IRON_FIRST=$(for i in 1 2 3 4 5; do rm -f "$WORK"/s.db*; start s 7083 "$SERVER_DLL" "IronAuth__Sqlite__Path=$WORK/s.db"; stop s; done | median)
fi

echo "starting..." >&2
START_IRON=$(start iron 7081 "$SERVER_DLL" "${IRON_ENV[@]}")
START_BASE=$(start base 7082 "$BASE_DLL")
IRON_PID=$(cat "$WORK/iron.pid")
IRON=http://127.0.0.1:7081; BASE=http://127.0.0.1:7082

ACCESS=$(curl -fs "$IRON/api/auth/login" -H 'content-type: application/json' \
  -d '{"username":"admin","password":"bench-admin-orchid-lantern-42"}' | json o.access_token)
mktoken() { curl -fs "$IRON/api/tokens" -H "authorization: Bearer $ACCESS" -H 'content-type: application/json' -d "$1" | json o.token; }
API_TOKEN=$(mktoken '{"name":"bench"}')
# A real gateway authenticates with an API token of its own holding tokens:verify, not with an access JWT.
GATEWAY=$(mktoken '{"name":"gateway","scopes":["tokens:verify"]}')
: >"$WORK/tokens.txt"
for i in $(seq 1 50); do mktoken "{\"name\":\"user-$i\"}" >>"$WORK/tokens.txt"; done

declare -A RESULT CPU
# pair NAME IRON_URL [wrk args...]: alternates baseline and IronAuth rounds; the median round of each side, and the
# IronAuth server's CPU per request over all its rounds (LOAD_PID, by default IRON_PID: the server under load).
pair() {
  local name=$1 url=$2; shift 2
  local b="" i="" cpu=0 requests=0 before line pid=${LOAD_PID:-$IRON_PID}
  for r in $(seq 1 "$ROUNDS"); do
    b+=$(wrk_run "$BASE/api/health")$'\n'
    before=$(cpu_us "$pid")
    line=$(BEARER=${BEARER:-} TOKENS=${TOKENS:-} USAGE=${USAGE:-} wrk_run "$url" "$@")
    cpu=$(( cpu + $(cpu_us "$pid") - before )); requests=$(( requests + ${line##* } ))
    i+=$line$'\n'
  done
  RESULT[$name]="$(echo -n "$b" | medians) $(echo -n "$i" | medians)"
  LAST_REQUESTS=$requests
  CPU[$name]=$(awk -v c="$cpu" -v n="$requests" 'BEGIN { printf "%.1f", c / n }')
  echo "$name: ${RESULT[$name]}, ${CPU[$name]} µs CPU/request" >&2
}

pair health "$IRON/api/health"
BEARER=$ACCESS pair jwt "$IRON/api/auth/me" -s bench/wrk/bearer.lua
BEARER=$API_TOKEN pair apitoken "$IRON/api/auth/me" -s bench/wrk/bearer.lua
BEARER=$ACCESS TOKENS=$WORK/tokens.txt pair verify "$IRON" -s bench/wrk/verify.lua
BEARER=$GATEWAY TOKENS=$WORK/tokens.txt pair gverify "$IRON" -s bench/wrk/verify.lua
BEARER=$GATEWAY TOKENS=$WORK/tokens.txt USAGE=1 pair guverify "$IRON" -s bench/wrk/verify.lua
# 10. the floor under scenario 4: the baseline app answering the same POST (body read and parsed; a fixed answer of a
#     verify's shape, size and headers), no authentication or metering; its CPU is the baseline's.
BEARER=$GATEWAY TOKENS=$WORK/tokens.txt LOAD_PID=$(cat "$WORK/base.pid") pair exchange "$BASE" -s bench/wrk/verify.lua

if [[ -n "$FULL" ]]; then
# 6. isolation: verify latency alone, then during a login flood at work factor 12.
ALONE=$(CONNS=4 BEARER=$ACCESS TOKENS=$WORK/tokens.txt wrk_run "$IRON" -s bench/wrk/verify.lua)
( CONNS=16 USERNAME=admin PASSWORD=bench-admin-orchid-lantern-42 wrk_run "$IRON/api/auth/login" -s bench/wrk/login.lua >"$WORK/flood.txt" ) &
FLOOD=$!
FLOODED=$(CONNS=4 BEARER=$ACCESS TOKENS=$WORK/tokens.txt wrk_run "$IRON" -s bench/wrk/verify.lua)
wait $FLOOD
LOGIN=$(cat "$WORK/flood.txt")
echo "isolation: alone $ALONE, during flood $FLOODED; login $LOGIN" >&2
RSS_KB=$(awk '/VmHWM/ { print $2 }' /proc/"$(cat "$WORK/iron.pid")"/status)

# 5. login throughput against raw bcrypt on the cores the server lets hash (MaxConcurrentHashes = cores - 1).
HASH_THREADS=$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))
RAW_BCRYPT=$($BENCH bcrypt --work-factor 12 --seconds 10 --threads "$HASH_THREADS")
RAW_BCRYPT_ALL=$($BENCH bcrypt --work-factor 12 --seconds 10 --threads "$(nproc)")
LOGIN_RPS=$(CONNS=4 DURATION=20s USERNAME=admin PASSWORD=bench-admin-orchid-lantern-42 wrk_run "$IRON/api/auth/login" -s bench/wrk/login.lua | awk '{print $1}')

stop iron; stop base
# 5b. the same on every core: a server allowed as many hashes at once as there are cores, against raw bcrypt on
#     all cores (the default keeps a core free for everything else; see scenario 6).
start iron 7081 "$SERVER_DLL" "${IRON_ENV[@]}" "IronAuth__Passwords__MaxConcurrentHashes=$(nproc)" >/dev/null
# Warm-up first: at a few logins a second, a fresh server keeps recompiling its login path's methods (tier 1) for
# the first 20-30 seconds, 3-4% of its CPU in an unwarmed 20-second run (perf: the tiered-compilation thread).
# (Scenario 5 above runs on a server warmed by all the scenarios before it.)
CONNS=4 DURATION=20s USERNAME=admin PASSWORD=bench-admin-orchid-lantern-42 wrk_run "$IRON/api/auth/login" -s bench/wrk/login.lua >/dev/null
LOGIN_RPS_ALL=$(CONNS=4 DURATION=20s USERNAME=admin PASSWORD=bench-admin-orchid-lantern-42 wrk_run "$IRON/api/auth/login" -s bench/wrk/login.lua | awk '{print $1}')
fi
stop iron
if [[ -z "$FULL" ]]; then stop base; fi
# 9. the cost of instrumentation: verify by the gateway's own token against a server with the metrics endpoint on (the
#    default: OpenTelemetry reading IronAuth's and ASP.NET Core's meters) and one with IronAuth:Metrics:Enabled=false
#    (no OpenTelemetry SDK at all), each on its own store, alternating rounds.
tokens_for() { # URL FILE-PREFIX: a gateway token (tokens:verify) and 50 user tokens of the bench admin
  local url=$1 out=$2 access
  access=$(curl -fs "$url/api/auth/login" -H 'content-type: application/json' \
    -d '{"username":"admin","password":"bench-admin-orchid-lantern-42"}' | json o.access_token)
  mk() { curl -fs "$url/api/tokens" -H "authorization: Bearer $access" -H 'content-type: application/json' -d "$1" | json o.token; }
  mk '{"name":"gateway","scopes":["tokens:verify"]}' >"$out.gateway"
  : >"$out.tokens"; for i in $(seq 1 50); do mk "{\"name\":\"user-$i\"}" >>"$out.tokens"; done
}
if [[ -n "$FULL" ]]; then
  start mon 7085 "$SERVER_DLL" "${IRON_ENV[@]}" "IronAuth__Sqlite__Path=$WORK/mon.db" >/dev/null
  start moff 7086 "$SERVER_DLL" "${IRON_ENV[@]}" "IronAuth__Sqlite__Path=$WORK/moff.db" IronAuth__Metrics__Enabled=false >/dev/null
  tokens_for http://127.0.0.1:7085 "$WORK/mon"; tokens_for http://127.0.0.1:7086 "$WORK/moff"
  on=""; off=""
  # A fresh server spends its first seconds compiling; each is warmed up before the measured rounds.
  DURATION=5s BEARER=$(cat "$WORK/mon.gateway") TOKENS=$WORK/mon.tokens wrk_run http://127.0.0.1:7085 -s bench/wrk/verify.lua >/dev/null
  DURATION=5s BEARER=$(cat "$WORK/moff.gateway") TOKENS=$WORK/moff.tokens wrk_run http://127.0.0.1:7086 -s bench/wrk/verify.lua >/dev/null
  for r in $(seq 1 "$ROUNDS"); do
    on+=$(BEARER=$(cat "$WORK/mon.gateway") TOKENS=$WORK/mon.tokens wrk_run http://127.0.0.1:7085 -s bench/wrk/verify.lua)$'\n'
    off+=$(BEARER=$(cat "$WORK/moff.gateway") TOKENS=$WORK/moff.tokens wrk_run http://127.0.0.1:7086 -s bench/wrk/verify.lua)$'\n'
  done
  METRICS_ON=$(echo -n "$on" | medians | awk '{print $1}'); METRICS_OFF=$(echo -n "$off" | medians | awk '{print $1}')
  echo "instrumentation: on $METRICS_ON, off $METRICS_OFF" >&2
  stop mon; stop moff
fi
# 7. Table Storage on Azurite: scenarios 2-4 and store round trips per verify.
TABLES_ROWS=""
if [[ -d tests/azurite/node_modules/azurite ]]; then
  node tests/azurite/node_modules/azurite/dist/src/table/main.js --inMemoryPersistence --disableTelemetry \
    --tableHost 127.0.0.1 --tablePort 10102 >"$WORK/azurite.log" 2>&1 &
  echo $! >"$WORK/azurite.pid"
  until (exec 3<>/dev/tcp/127.0.0.1/10102) 2>/dev/null; do sleep 0.05; done
  CS="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:10102/devstoreaccount1;"
  start tiron 7084 "$SERVER_DLL" "${IRON_ENV[@]}" IronAuth__Store=tables "IronAuth__Tables__ConnectionString=$CS" >/dev/null
  IRON=http://127.0.0.1:7084
  ACCESS=$(curl -fs "$IRON/api/auth/login" -H 'content-type: application/json' \
    -d '{"username":"admin","password":"bench-admin-orchid-lantern-42"}' | json o.access_token)
  IRON_PID=$(cat "$WORK/tiron.pid")
  API_TOKEN=$(mktoken '{"name":"bench"}')
  GATEWAY=$(mktoken '{"name":"gateway","scopes":["tokens:verify"]}')
  : >"$WORK/tokens.txt"; for i in $(seq 1 50); do mktoken "{\"name\":\"user-$i\"}" >>"$WORK/tokens.txt"; done
  start base 7082 "$BASE_DLL" >/dev/null
  BEARER=$ACCESS pair tjwt "$IRON/api/auth/me" -s bench/wrk/bearer.lua
  BEARER=$API_TOKEN pair tapitoken "$IRON/api/auth/me" -s bench/wrk/bearer.lua
  BEARER=$ACCESS TOKENS=$WORK/tokens.txt pair tverify "$IRON" -s bench/wrk/verify.lua
  # Round trips per verify under load, the gateway's own token included: the store layer's counter on /metrics
  # before and after the gateway rounds (the baseline rounds between them send the server nothing).
  trips() { curl -fs "$IRON/metrics" | awk '/^ironauth_store_round_trips_total/ { n += $NF } END { printf "%.0f\n", n }'; }
  TRIPS_BEFORE=$(trips)
  BEARER=$GATEWAY TOKENS=$WORK/tokens.txt pair tgverify "$IRON" -s bench/wrk/verify.lua
  TRIPS_LOADED=$(awk -v a="$TRIPS_BEFORE" -v b="$(trips)" -v n="$LAST_REQUESTS" 'BEGIN { printf "%.2f", (b - a) / n }')
  stop tiron; stop base
  TRIPS_TABLES=$(IRONAUTH_BENCH_TABLES=$CS $BENCH roundtrips tables --count 500)
  TABLES_ROWS=yes
fi
TRIPS_SQLITE=$($BENCH roundtrips sqlite --count 2000)

# ---- report ----
DATE=$(date -u +%F)
FILE=${RESULTS:-bench/results/$DATE.md}
row() { # name label
  read -r brps bp50 bp99 irps ip50 ip99 <<<"${RESULT[$1]}"
  awk -v l="$2" -v br="$brps" -v ir="$irps" -v p50="$ip50" -v p99="$ip99" -v b50="$bp50" -v b99="$bp99" \
    -v cpu="${CPU[$1]}" 'BEGIN { printf "| %s | %d | %.2f | %.2f | %s | %d | %.2f | %.2f | %.2f |\n", l, ir, p50, p99, cpu, br, b50, b99, ir/br }'
}
{
  echo "# Benchmarks $DATE"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(dotnet --version) SDK, runtime $(dotnet --list-runtimes | awk '/NETCore.App/ {v=$2} END {print v}'), wrk $DURATION × $ROUNDS rounds per side, 2 threads, ${CONNS:-32} connections, alternating baseline and IronAuth."
  echo "Baseline: bench/Baseline (minimal API answering GET /api/health), Release, same runtime settings."
  echo
  echo "Each figure is the median round; CPU is the IronAuth server's user + system time per request over all its rounds."
  echo
  echo "| scenario | IronAuth req/s | p50 ms | p99 ms | CPU µs/req | baseline req/s | p50 ms | p99 ms | ratio |"
  echo "|---|---|---|---|---|---|---|---|---|"
  row health "1. GET /api/health"
  row jwt "2. GET /api/auth/me, access JWT"
  row apitoken "3. GET /api/auth/me, API token"
  row verify "4. POST /api/tokens/verify (50 tokens), gateway by access JWT"
  row gverify "4. POST /api/tokens/verify (50 tokens), gateway by its own API token"
  row guverify "4. the same, usage (tokens, cost) reported on each call"
  row exchange "10. the baseline answering scenario 4's POST: the HTTP exchange alone (CPU: the baseline's)"
  if [[ -n "$TABLES_ROWS" ]]; then
    row tjwt "7. Tables: /auth/me, JWT"
    row tapitoken "7. Tables: /auth/me, API token"
    row tverify "7. Tables: /tokens/verify, gateway by access JWT"
    row tgverify "7. Tables: /tokens/verify, gateway by its own API token"
  fi
  echo
  echo "| measurement | value |"
  echo "|---|---|"
  if [[ -n "$FULL" ]]; then
  echo "| 5. login req/s at work factor 12 (4 connections) | $LOGIN_RPS |"
  echo "| 5. raw BCrypt.Verify/s on $HASH_THREADS thread(s) (the hashing slots the server allows) | $RAW_BCRYPT |"
  echo "| 5. raw BCrypt.Verify/s on $(nproc) threads | $RAW_BCRYPT_ALL |"
  echo "| 5. login ÷ raw bcrypt on the same slots | $(awk -v a="$LOGIN_RPS" -v b="$RAW_BCRYPT" 'BEGIN { printf "%.0f%%", 100*a/b }') |"
  echo "| 5. login req/s with MaxConcurrentHashes=$(nproc), ÷ raw bcrypt on $(nproc) threads | $LOGIN_RPS_ALL ($(awk -v a="$LOGIN_RPS_ALL" -v b="$RAW_BCRYPT_ALL" 'BEGIN { printf "%.0f%%", 100*a/b }')) |"
  echo "| 6. verify p99 alone / during login flood (ms) | $(echo "$ALONE" | awk '{print $3}') / $(echo "$FLOODED" | awk '{print $3}') ($(awk -v a="$(echo "$ALONE" | awk '{print $3}')" -v b="$(echo "$FLOODED" | awk '{print $3}')" 'BEGIN { printf "%.1f×", b/a }')) |"
  echo "| 6. login flood meanwhile (req/s, p99 ms) | $(echo "$LOGIN" | awk '{print $1", "$3}') |"
  fi
  echo "| 7. store round trips per verify, SQLite (statements) | $TRIPS_SQLITE |"
  if [[ -n "$TABLES_ROWS" ]]; then
    echo "| 7. store round trips per verify, Table Storage (HTTP requests), one caller | $TRIPS_TABLES |"
    echo "| 7. store round trips per verify, Table Storage, under load with the gateway's own token | $TRIPS_LOADED |"
  fi
  if [[ -n "$FULL" ]]; then
  echo "| 8. start to first 200, IronAuth restart / baseline (ms, median of 7, alternating) | $STARTS_IRON / $STARTS_BASE ($(awk -v a="$STARTS_IRON" -v b="$STARTS_BASE" 'BEGIN { printf "%.2f×", a/b }')) |"
  echo "| 8. start to first 200, IronAuth first start on an empty store (schema + key generation) | $STARTS_IRON_FIRST ms |"
  echo "| 8. peak RSS of the server after scenarios 1-6 | $((RSS_KB / 1024)) MiB |"
  echo "| 9. /tokens/verify (gateway's own token) with the metrics endpoint on / off, req/s (median round) | $METRICS_ON / $METRICS_OFF ($(awk -v a="$METRICS_ON" -v b="$METRICS_OFF" 'BEGIN { printf "%+.1f%%", 100*(a-b)/b }')) |"
  fi
} >"$FILE"
cat "$FILE"
