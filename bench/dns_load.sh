#!/usr/bin/env bash
# The DNS path under load, side by side in one run: the gateway (`csc-rfc2136 serve`, release
# build, journal durable on disk, in front of `csc-rfc2136 sim --edit-seconds 0`) versus BIND 9
# `named` with a dynamic zone (journal on disk), same TSIG key (hmac-sha256), same workload,
# same load generator (dnsperf):
#
#   1. TSIG-signed UPDATEs: add, then delete, a distinct `_acme-challenge.<n>.example.com` TXT
#      value per name, for DURATION seconds at max rate with OUTSTANDING requests in flight;
#   2. unsigned `example.com SOA` queries, QUERY_DURATION seconds, same OUTSTANDING.
#
# For each server: throughput, latency p50/p99 (from dnsperf -v), CPU in cores used (from
# /proc/<pid>/stat utime+stime over the run), idle RSS before load (VmRSS), peak RSS (VmHWM).
# Also the whole machine's busy cores during each run, to see another workload disturbing it.
#
# Everything stays on 127.0.0.1; every process started here is killed on exit. The system's
# named service is never touched: named runs in the foreground from a temporary directory.
#
# Phases, each run against the gateway then against BIND (the same processes throughout, in
# this order, so the peak RSS read after a phase is the high-water mark up to it):
#   soa     unsigned SOA queries at max rate, QUERY_DURATION seconds;
#   soa200  the same after PRELOAD (200) more TXT records were added to the zone by UPDATE (the
#           gateway builds its view of the zone per query, so its cost grows with the zone);
#   paced   signed UPDATEs offered at PACED_RATE/s (dnsperf -Q): latency and memory at the
#           target load;
#   max     signed UPDATEs at max rate: throughput.
# After each UPDATE phase the gateway is given time (bounded) to deliver what it queued (its
# /status lists no pending work) before its peak RSS is read, so the peak includes delivering
# the batch.
#
# ROUNDS=n repeats the paced and max phases n times (the SOA phases run once).
# "RSS under load" is the largest VmRSS sampled during the run; "peak RSS" is VmHWM read after
# the gateway delivered its queue.
#
# Usage: bench/dns_load.sh   (env: DURATION=20 QUERY_DURATION=10 OUTSTANDING=100 PACED_RATE=10000
#                             ROUNDS=1 NAMES=200000 PRELOAD=200 EDITS= PROFILE=0 KEEP=0 BUILD=1
#                             RESULTS=file.md)
# e.g. EDITS=$'batch_window = "200ms"\nbatch_max_wait = "1s"' bench/dns_load.sh
# PROFILE=1 records `perf record -g` of the gateway during each of its round-1 runs and prints
# the top symbols. KEEP=1 keeps the temporary directory (logs, dnsperf output).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-20}
QUERY_DURATION=${QUERY_DURATION:-10}
OUTSTANDING=${OUTSTANDING:-100}
PACED_RATE=${PACED_RATE:-10000}
PRELOAD=${PRELOAD:-200}
# Extra lines for the gateway's [edits] table, e.g. 'batch_max_wait = "1s"'. The default lifts
# the per-edit cap (batch_max_changes, 500 by default) and the back-pressure bound (max_pending,
# 10,000 per zone), as when the figures in BENCHMARKS.md were
# taken: this benchmark measures the DNS intake path, and at 10,000 updates/s a 500-change cap
# makes draining to the instant sim take minutes between phases.
EDITS=${EDITS:-$'batch_max_changes = 1000000\nmax_pending = 100000000'}
ROUNDS=${ROUNDS:-1}
NAMES=${NAMES:-200000}
PROFILE=${PROFILE:-0}
KEEP=${KEEP:-0}
BUILD=${BUILD:-1}
BIN="$ROOT/target/release/csc-rfc2136"
ZONE=example.com
KEY_NAME=bench-key.
HZ=$(getconf CLK_TCK)

log() { printf '[dns_load %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# --- prerequisites -----------------------------------------------------------------------------
need=()
command -v named >/dev/null || need+=(bind9)
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v dig >/dev/null || need+=(bind9-dnsutils)
if ((${#need[@]})); then
    log "installing ${need[*]} (apt)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [[ $BUILD == 1 ]]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet --bin csc-rfc2136)
fi
[[ -x $BIN ]] || { echo "no $BIN" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/dns_load.XXXXXX) # on disk (not tmpfs): fsync is real
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers -----------------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket
for _ in range(50):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: u.close(); t.close()'
}
# utime+stime of a process, in clock ticks (fields 14 and 15; comm may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# Busy ticks of the whole machine (all but idle and iowait), summed over the cores.
sys_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
status_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }
# wait_line FILE PATTERN PID ERRFILE: waits (at most 30 s) for a line matching PATTERN in FILE
# and prints it; fails at once, showing ERRFILE, when PID exits first.
wait_line() {
    for _ in $(seq 300); do
        if grep -m1 -- "$2" "$1" 2>/dev/null; then return 0; fi
        if ! kill -0 "$3" 2>/dev/null; then
            echo "process $3 exited before printing '$2':" >&2
            tail -20 "$4" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    echo "timed out waiting for '$2' in $1" >&2
    tail -20 "$4" >&2 || true
    return 1
}
others() { # the busiest other processes over the last second (top's second frame), for the record
    top -b -n 2 -d 1 -w 200 | awk -v skip=" $$ ${PIDS[*]} " '
        /^top -/ { frame++ } frame == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 5 && index(skip, " " $1 " ") == 0 {
            printf "%s(%s%%) ", $12, $9 }' | head -c 200
}

# --- workload files ----------------------------------------------------------------------------
log "writing the workload: $NAMES names, add then delete each (chunks of 500)"
awk -v n="$NAMES" -v zone="$ZONE" 'BEGIN {
    for (base = 0; base < n; base += 500) {
        top = base + 500; if (top > n) top = n
        for (i = base; i < top; i++)
            printf "%s\nadd _acme-challenge.%d 60 TXT \"token-%d-abcdefghijklmnopqrstuvwxyz0123456789\"\nsend\n", zone, i, i
        for (i = base; i < top; i++)
            printf "%s\ndelete _acme-challenge.%d TXT \"token-%d-abcdefghijklmnopqrstuvwxyz0123456789\"\nsend\n", zone, i, i
    }
}' >"$WORK/updates.txt"
printf '%s SOA\n' "$ZONE" >"$WORK/soa.txt"
awk -v n="$PRELOAD" -v zone="$ZONE" 'BEGIN { for (i = 0; i < n; i++)
    printf "%s\nadd _acme-challenge.preload%d 300 TXT \"preload-%d-abcdefghijklmnopqrstuvwxyz0123456\"\nsend\n", zone, i, i
}' >"$WORK/preload.txt"
SECRET=$(head -c 32 /dev/urandom | base64)

# --- the gateway -------------------------------------------------------------------------------
log "starting the sim (--edit-seconds 0) and the gateway"
mkdir -p "$WORK/gw/state"
"$BIN" sim --http 127.0.0.1:0 --dns 127.0.0.1:0 --zones "$ZONE" --edit-seconds 0 \
    >"$WORK/gw/sim.out" 2>"$WORK/gw/sim.err" &
SIM_PID=$!
PIDS+=("$SIM_PID")
API=$(wait_line "$WORK/gw/sim.out" 'sim ready:' "$SIM_PID" "$WORK/gw/sim.err" | sed -n 's/.*api=\([^ ]*\).*/\1/p')
cat >"$WORK/gw/gateway.toml" <<EOF
[server]
listen = ["127.0.0.1:0"]

http = "127.0.0.1:0"

[csc]
base_url = "$API"
api_key = "sim-api-key"
bearer_token = "sim-bearer-token"

[state]
dir = "$WORK/gw/state"

[[key]]
name = "$KEY_NAME"
algorithm = "hmac-sha256"
secret = "$SECRET"
zones = ["$ZONE"]
EOF
if [[ -n $EDITS ]]; then printf '\n[edits]\n%s\n' "$EDITS" >>"$WORK/gw/gateway.toml"; fi
"$BIN" serve --config "$WORK/gw/gateway.toml" >"$WORK/gw/gateway.out" 2>"$WORK/gw/gateway.err" &
GW_PID=$!
PIDS+=("$GW_PID")
GW_READY=$(wait_line "$WORK/gw/gateway.out" 'gateway ready:' "$GW_PID" "$WORK/gw/gateway.err")
GW_PORT=$(sed -n 's/.*dns=127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$GW_READY")
GW_HTTP=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' <<<"$GW_READY")

# --- BIND --------------------------------------------------------------------------------------
log "starting named in the foreground from $WORK/bind"
mkdir -p "$WORK/bind"
BIND_PORT=$(free_port)
sed -e "s|@DIR@|$WORK/bind|g" -e "s|@SECRET@|$SECRET|g" "$ROOT/bench/named/named.conf.in" \
    >"$WORK/bind/named.conf"
cp "$ROOT/bench/named/example.com.db.in" "$WORK/bind/example.com.db"
named -g -c "$WORK/bind/named.conf" -p "$BIND_PORT" >"$WORK/bind/named.stderr" 2>&1 &
BIND_PID=$!
PIDS+=("$BIND_PID")
for _ in $(seq 100); do
    dig +short +time=1 +tries=1 @127.0.0.1 -p "$BIND_PORT" "$ZONE" SOA | grep -q . && break
    kill -0 "$BIND_PID" 2>/dev/null || { cat "$WORK/bind/named.stderr" >&2; exit 1; }
    sleep 0.2
done
# A signed update through nsupdate proves the key and the policy before the load.
for target in "gateway $GW_PORT" "bind $BIND_PORT"; do
    set -- $target
    printf 'server 127.0.0.1 %s\nzone %s\nupdate add _acme-challenge.check.%s 60 TXT "x"\nsend\nupdate delete _acme-challenge.check.%s TXT "x"\nsend\n' \
        "$2" "$ZONE" "$ZONE" "$ZONE" | nsupdate -y "hmac-sha256:$KEY_NAME:$SECRET" ||
        { echo "nsupdate against $1 failed" >&2; exit 1; }
done
log "gateway pid $GW_PID port $GW_PORT (sim pid $SIM_PID); named pid $BIND_PID port $BIND_PORT"
sleep 3
GW_IDLE=$(status_kb "$GW_PID" VmRSS)
BIND_IDLE=$(status_kb "$BIND_PID" VmRSS)
log "idle RSS: gateway ${GW_IDLE} kB, named ${BIND_IDLE} kB"

# --- one measured run --------------------------------------------------------------------------
# Waits (at most 120 s) until the gateway's /status lists no pending or in-flight work.
gateway_drained() {
    local t0
    t0=$(date +%s)
    for _ in $(seq 600); do
        if curl -sf "http://$GW_HTTP/status" | grep -q '"zones":\[\]'; then
            log "gateway drained its queue in $(($(date +%s) - t0)) s"
            return 0
        fi
        sleep 0.2
    done
    log "gateway still has work queued after 120 s: $(curl -sf "http://$GW_HTTP/status" | head -c 300)"
}

# run NAME MODE PID PORT: appends one TSV row to results.tsv
#   name mode rate completed lost p50_ms p99_ms max_ms cores rss_peak_kb sim_cores machine_busy
#   client_cores codes rss_under_load_kb
run() {
    local name=$1 mode=$2 pid=$3 port=$4 dur out args
    out="$WORK/$name.$mode.r$ROUND"
    case $mode in
    soa | soa200)
        dur=$QUERY_DURATION
        args=(-d "$WORK/soa.txt") ;;
    paced)
        dur=$DURATION
        args=(-u -y "hmac-sha256:$KEY_NAME:$SECRET" -d "$WORK/updates.txt" -Q "$PACED_RATE") ;;
    max)
        dur=$DURATION
        args=(-u -y "hmac-sha256:$KEY_NAME:$SECRET" -d "$WORK/updates.txt") ;;
    esac
    log "round $ROUND: $name $mode for ${dur}s, $OUTSTANDING outstanding; load $(cut -d' ' -f1-3 /proc/loadavg); others: $(others)"
    local c0 s0 b0 t0 c1 s1 b1 t1 perf_pid=""
    if [[ $PROFILE == 1 && $name == gateway && $ROUND == 1 ]] && command -v perf >/dev/null; then
        perf record -F 499 -g -p "$pid" -o "$WORK/perf.$mode.data" -- sleep "$((dur - 2))" \
            >/dev/null 2>&1 &
        perf_pid=$!
    fi
    # The largest VmRSS seen while the load runs (sampled every 0.25 s).
    (
        max_rss=0
        for _ in $(seq $((dur * 4 + 4))); do
            rss=$(status_kb "$pid" VmRSS || echo 0)
            ((rss > max_rss)) && max_rss=$rss
            echo "$max_rss" >"$out.rss"
            sleep 0.25
        done
    ) &
    local sampler=$!
    c0=$(cpu_ticks "$pid"); s0=$(cpu_ticks "$SIM_PID"); b0=$(sys_busy); t0=$(now)
    (
        TIMEFORMAT='%U %S'
        time dnsperf -v -s 127.0.0.1 -p "$port" -l "$dur" -q "$OUTSTANDING" -c 4 "${args[@]}" \
            >"$out.dnsperf" 2>"$out.stderr"
    ) 2>"$out.time"
    c1=$(cpu_ticks "$pid"); s1=$(cpu_ticks "$SIM_PID"); b1=$(sys_busy); t1=$(now)
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    if [[ -n $perf_pid ]]; then wait "$perf_pid" || true; fi
    if [[ $name == gateway && ($mode == paced || $mode == max) ]]; then gateway_drained; fi
    local wall cores sim_cores busy client hwm
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')
    cores=$(awk -v d=$((c1 - c0)) -v w="$wall" -v hz="$HZ" 'BEGIN{printf "%.2f", d / hz / w}')
    sim_cores=$(awk -v d=$((s1 - s0)) -v w="$wall" -v hz="$HZ" 'BEGIN{printf "%.2f", d / hz / w}')
    busy=$(awk -v d=$((b1 - b0)) -v w="$wall" -v hz="$HZ" 'BEGIN{printf "%.2f", d / hz / w}')
    client=$(awk -v w="$wall" '{printf "%.2f", ($1 + $2) / w}' "$out.time")
    hwm=$(status_kb "$pid" VmHWM)
    local load_rss
    load_rss=$(cat "$out.rss" 2>/dev/null || echo 0)
    local rate completed lost codes
    rate=$(awk -F: '/(Updates|Queries) per second/{gsub(/ /, "", $2); printf "%.0f", $2}' "$out.dnsperf")
    completed=$(awk '/(Updates|Queries) completed/{print $3}' "$out.dnsperf")
    lost=$(awk '/(Updates|Queries) lost/{print $3}' "$out.dnsperf")
    codes=$(sed -n 's/^ *Response codes: *//p' "$out.dnsperf" | tr -d ' ')
    # dnsperf -v: "> RCODE qname [qtype] latency_seconds" per answered request.
    awk '$1 == ">" && $NF ~ /^[0-9.]+$/ {print $NF * 1000}' "$out.dnsperf" | sort -n >"$out.lat"
    local pct
    pct=$(awk '{a[NR] = $1} END {
        if (NR == 0) { print "-\t-\t-"; exit }
        i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
        i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
        printf "%.2f\t%.2f\t%.2f", a[i50], a[i99], a[NR] }' "$out.lat")
    rm -f "$out.lat"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$mode" "$rate" \
        "$completed" "$lost" "$pct" "$cores" "$hwm" "$sim_cores" "$busy" "$client" "$codes" "$load_rss" |
        tee -a "$WORK/results.tsv" >&2
    if [[ -n $perf_pid && -s $WORK/perf.$mode.data ]]; then
        perf report -i "$WORK/perf.$mode.data" --no-children --percent-limit 1.5 --stdio -g none \
            2>/dev/null | grep -v '^#' | grep -v '^$' | head -25 >"$WORK/perf.$mode.top" || true
    fi
}

: >"$WORK/results.tsv"
for ROUND in $(seq "$ROUNDS"); do
    modes="soa soa200 paced max"
    ((ROUND > 1)) && modes="paced max" # the zone is no longer fresh: SOA runs once
    for mode in $modes; do
        if [[ $mode == soa200 && $ROUND == 1 ]]; then
            log "adding $PRELOAD TXT records to each zone"
            for port in "$GW_PORT" "$BIND_PORT"; do
                dnsperf -u -y "hmac-sha256:$KEY_NAME:$SECRET" -s 127.0.0.1 -p "$port" -n 1 -q 20 \
                    -d "$WORK/preload.txt" >"$WORK/preload.$port.out" 2>&1
                grep -q "NOERROR $PRELOAD " "$WORK/preload.$port.out" ||
                    { cat "$WORK/preload.$port.out" >&2; exit 1; }
            done
            gateway_drained
        fi
        run gateway "$mode" "$GW_PID" "$GW_PORT"
        run bind "$mode" "$BIND_PID" "$BIND_PORT"
    done
done

# --- report ------------------------------------------------------------------------------------
GW_JOURNAL=$(du -sk "$WORK/gw/state" | cut -f1)
BIND_JOURNAL=$(du -sk "$WORK/bind/example.com.db.jnl" 2>/dev/null | cut -f1 || echo 0)
{
    echo "## dns_load $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "machine: $(nproc) cores, $(awk -F: '/model name/{print $2; exit}' /proc/cpuinfo | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -r)"
    echo "gateway: $("$BIN" --version)${EDITS:+ with [edits] $EDITS}; named: $(named -v); $(dnsperf -h 2>&1 | grep -m1 Version | sed 's/^/dnsperf /')"
    echo "workload: SOA ${QUERY_DURATION}s (soa200: after $PRELOAD TXT records were added); updates ${DURATION}s paced at ${PACED_RATE}/s then at max rate; dnsperf -c 4 -q $OUTSTANDING; idle RSS gateway ${GW_IDLE} kB, named ${BIND_IDLE} kB; state on disk after: gateway ${GW_JOURNAL} kB, named journal ${BIND_JOURNAL} kB"
    echo
    echo "| round | server | mode | rate/s | done | lost | p50 ms | p99 ms | max ms | server cores | RSS under load MB | peak RSS MB | sim cores | machine busy cores | dnsperf cores | rcodes |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    awk -F'\t' '{ r[$1 $2]++; printf "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %.1f | %s | %s | %s | %s |\n",
        r[$1 $2], $1, $2, $3, $4, $5, $6, $7, $8, $9, $15 / 1024, $10 / 1024, ($1 == "gateway" ? $11 : "-"), $12, $13, $14 }' \
        "$WORK/results.tsv"
    echo
    awk -F'\t' '{ rate[$1 "." $2] += $3; n[$1 "." $2]++ } END {
        printf "ratio gateway/BIND (mean rate over rounds):"
        split("soa soa200 paced max", modes, " ")
        for (i = 1; i <= 4; i++) { m = modes[i]
            if (n["bind." m] && rate["bind." m] > 0)
                printf " %s %.2f;", m, (rate["gateway." m] / n["gateway." m]) / (rate["bind." m] / n["bind." m]) }
        print "" }' "$WORK/results.tsv"
    for mode in soa soa200 paced max; do
        if [[ -s $WORK/perf.$mode.top ]]; then
            echo
            echo "perf, gateway, $mode run, self time:"
            echo '```'
            cat "$WORK/perf.$mode.top"
            echo '```'
        fi
    done
} | tee "$WORK/summary.md"
if [[ -n ${RESULTS:-} ]]; then cp "$WORK/summary.md" "$RESULTS"; log "summary written to $RESULTS"; fi
log "done"
