#!/usr/bin/env bash
# supctl benchmarks (issues #7 and #19): builds in release mode, runs every pair side by side
# (interleaved, alternating which side goes first), and prints a Markdown table of medians.
#
#   scripts/bench.sh                 # full run: 3,000/30,000-update ingest (and 100,000 for
#                                    # memory), first apply and no-op plan of 10 x 10,000 with
#                                    # plan and state sizes, 3,000-update apply,
#                                    # 8 x 256 MiB staging verification
#   BENCH_QUICK=1 scripts/bench.sh   # smoke mode: small sizes, 3 runs (numbers are not comparable)
#   BENCH_BASELINE=087df5b scripts/bench.sh
#                                    # also builds that commit's supctl (087df5b: the code
#                                    # before issue 19's first change) and runs its first apply
#                                    # on the same catalogs in the same run: row 4's wall-time
#                                    # target is then half of that, not half of the issue's 112 s
#                                    # (measured on another host; hosts of this kind differ by
#                                    # half again in speed)
#
# Environment: BENCH_RUNS (timed runs per benchmark, default 5; at least 5 for published
# figures), BENCH_KEEP=1 (keep the work directory), TMPDIR (where generated data goes; needs
# ~3 GiB in the full run), CARGO_BUILD_JOBS (passed to cargo).
# Needs: cargo, python3, cabextract, GNU time (/usr/bin/time), osslsigncode, openssl, sha1sum
#   (Debian/Ubuntu: apt-get install cabextract time osslsigncode openssl).
# Progress goes to stderr, the table to stdout. Generated data is deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# ---------------------------------------------------------------- sizes
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  MODE=quick
  RUNS=${BENCH_RUNS:-3}
  N_SMALL=300 N_LARGE=3000 N_HUGE=10000
  PLAN_CATALOGS=10 PLAN_UPDATES=300
  APPLY_UPDATES=300
  CONTENT_FILES=2 CONTENT_MIB=32
else
  MODE=full
  RUNS=${BENCH_RUNS:-5}
  N_SMALL=3000 N_LARGE=30000 N_HUGE=100000
  PLAN_CATALOGS=10 PLAN_UPDATES=10000
  APPLY_UPDATES=3000
  CONTENT_FILES=8 CONTENT_MIB=256
fi

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
for tool in cargo python3 cabextract osslsigncode openssl sha1sum; do
  command -v "$tool" >/dev/null || die "$tool is required (Debian/Ubuntu: apt-get install cabextract time osslsigncode openssl)"
done
GNU_TIME=/usr/bin/time
"$GNU_TIME" -f %M true >/dev/null 2>&1 \
  || die "GNU time is required at /usr/bin/time (Debian/Ubuntu: apt-get install time)"

# ---------------------------------------------------------------- build (release, once)
log "building release binaries (supctl and the test kit's generator)"
cargo build --release --locked -p supctl -p supctl-test-kit --bins --quiet
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
SUPCTL=$BIN/supctl
GEN=$BIN/supctl-gen-catalog
[ -x "$SUPCTL" ] && [ -x "$GEN" ] || die "release binaries not found in $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/supctl-bench.XXXXXX")
RES=$WORK/results
mkdir -p "$RES"
cleanup() { if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# The quickstart's committed test PKI signs every generated catalog and content file.
PKI=$ROOT/examples/quickstart/pki
not_before=$(openssl x509 -in "$PKI/signer.pem" -noout -startdate | cut -d= -f2)
SIGN_TIME=$(( $(date -u -d "$not_before" +%s) + 60 ))
THUMB=$(openssl x509 -in "$PKI/signer.pem" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
SIGN=(--sign-cert "$PKI/signer.pem" --sign-key "$PKI/signer.key" --sign-time "$SIGN_TIME" --content-cert "$PKI/signer.cer")

# ---------------------------------------------------------------- baseline (optional)
BASELINE=${BENCH_BASELINE:-}
if [ -n "$BASELINE" ]; then
  log "building the baseline $BASELINE (release, from git archive, its own target directory)"
  mkdir -p "$WORK/baseline"
  git -C "$ROOT" archive "$BASELINE" | tar -x -C "$WORK/baseline"
  CARGO_TARGET_DIR=$WORK/baseline-target cargo build --release --locked --quiet \
    --manifest-path "$WORK/baseline/Cargo.toml" -p supctl --bin supctl
  BASE_SUPCTL=$WORK/baseline-target/release/supctl
  BASELINE=$(git -C "$ROOT" rev-parse --short "$BASELINE")
fi

# ---------------------------------------------------------------- measuring
# timed NAME CMD...: one run; appends wall milliseconds to NAME.ms, user + system CPU
# milliseconds (of the process and its children) to NAME.cpu and peak RSS (KiB, of the
# largest process) to NAME.rss; stdout in NAME.out. Any non-zero exit fails the benchmark.
timed() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  if ! "$GNU_TIME" -f '%M %U %S' -o "$RES/$name.time" "$@" >"$RES/$name.out" 2>"$RES/$name.err"; then
    cat "$RES/$name.err" >&2
    die "$name failed: $*"
  fi
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 )) >>"$RES/$name.ms"
  tail -n 1 "$RES/$name.time" | awk '{print $1}' >>"$RES/$name.rss"
  tail -n 1 "$RES/$name.time" | awk '{printf "%d\n", ($2 + $3) * 1000}' >>"$RES/$name.cpu"
}
median() { sort -n "$1" | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else printf "%d\n", (v[NR/2]+v[NR/2+1])/2}'; }
peak() { sort -n "$1" | tail -n 1; }
# One untimed warm-up of each side, then RUNS interleaved pairs (A B, B A, A B, ...).
# pair NAME_A "CMD_A" NAME_B "CMD_B"   (commands are eval'ed; NAME_B may be empty)
pair() {
  local a=$1 ca=$2 b=$3 cb=$4 i
  eval "$ca" >/dev/null 2>&1 || true
  [ -z "$b" ] || eval "$cb" >/dev/null 2>&1 || true
  rm -f "$RES/$a".* ; [ -z "$b" ] || rm -f "$RES/$b".*
  for ((i = 1; i <= RUNS; i++)); do
    if [ -z "$b" ]; then eval "timed $a $ca"
    elif ((i % 2)); then eval "timed $a $ca"; eval "timed $b $cb"
    else eval "timed $b $cb"; eval "timed $a $ca"
    fi
  done
}
secs() { awk -v ms="$1" 'BEGIN {printf "%.3f s", ms / 1000}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.0f MiB", k / 1024}'; }
# cmp A OP B: floating comparison
cmp() { awk -v a="$1" -v b="$3" "BEGIN {exit !(a $2 b)}"; }
verdict() { if "$@"; then echo met; else echo "**missed**"; fi; }

# ---------------------------------------------------------------- data
log "mode $MODE, $RUNS timed runs per benchmark, work directory $WORK"
gen() { "$GEN" "$@" "${SIGN[@]}" >/dev/null; }
log "generating ingest catalogs ($N_SMALL and $N_LARGE updates)"
gen --updates "$N_SMALL" --seed 1 --out "$WORK/ingest-small.cab"
gen --updates "$N_LARGE" --seed 1 --out "$WORK/ingest-large.cab"

# ---------------------------------------------------------------- 1. ingest
ingest() {
  local tag=$1 n=$2 cab=$3
  log "ingest $n updates: supctl catalog inspect vs peer_ingest.py ($RUNS pairs)"
  pair "ingest-$tag" "$SUPCTL catalog inspect $cab --json --trust $THUMB" \
       "peer-$tag" "python3 $ROOT/scripts/peer_ingest.py $cab"
  # Both sides must have seen every update, and supctl must have trusted the signature.
  python3 - "$RES/ingest-$tag.out" "$n" <<'EOF' || die "supctl ingest output is wrong"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["updates"] == int(sys.argv[2]), o["updates"]
assert o["signature"]["trusted"] is True, o["signature"]
EOF
  [ "$(cat "$RES/peer-$tag.out")" = "$n" ] || die "peer counted $(cat "$RES/peer-$tag.out") packages, expected $n"
}
ingest small "$N_SMALL" "$WORK/ingest-small.cab"
ingest large "$N_LARGE" "$WORK/ingest-large.cab"
rm -f "$WORK"/ingest-*.cab # keep the disk footprint small: each stage deletes its data
# Memory growth: one more size, supctl only, one run (its peak RSS is the point).
log "ingest $N_HUGE updates (memory growth, one run)"
# A cabinet holds at most 65,535 files: no per-update V2 copies at this size; and the
# built-in [limits] stop at 50,000 updates, so this size comes with a config raising them.
gen --updates "$N_HUGE" --seed 1 --out "$WORK/ingest-huge.cab" --no-v2-copies
mkdir -p "$WORK/huge"
printf '[limits]\nmax_updates = %d\n' $((N_HUGE * 2)) > "$WORK/huge/supctl.toml"
timed ingest-huge "$SUPCTL" catalog inspect "$WORK/ingest-huge.cab" --json --trust "$THUMB" -c "$WORK/huge/supctl.toml"
rm -f "$WORK/ingest-huge.cab"

# ---------------------------------------------------------------- 2. plan (no-op) and apply
write_config() { # DIR CATALOG-TABLES...
  local dir=$1; shift
  mkdir -p "$dir"
  {
    printf 'version = 1\n\n[server]\nbackend = "local"\npath = ".supctl"\n'
    printf '%s\n' "$@"
    # The content certificate the catalogs ship, approved (as a real config would).
    printf '\n[[certificate]]\nthumbprint = "%s"\nkind = "content"\nstate = "approved"\n' "$THUMB"
  } >"$dir/supctl.toml"
}
catalog_toml() { # KEY CAB
  printf '\n[catalog.%s]\nname = "Bench catalog %s"\npublisher = "Contoso"\npath = "%s"\nsigners = ["%s"]\n' "$1" "$1" "$2" "$THUMB"
}

log "generating $PLAN_CATALOGS catalogs of $PLAN_UPDATES updates"
plan_tables=()
for ((c = 1; c <= PLAN_CATALOGS; c++)); do
  key=$(printf 'bench%02d' "$c")
  gen --updates "$PLAN_UPDATES" --seed $((100 + c)) --out "$WORK/plan-$key.cab"
  plan_tables+=("$(catalog_toml "$key" "$WORK/plan-$key.cab")")
done
write_config "$WORK/plan" "${plan_tables[@]}"
if [ -n "$BASELINE" ]; then
  log "the baseline's first apply of $((PLAN_CATALOGS * PLAN_UPDATES)) updates (timed once)"
  write_config "$WORK/plan-base" "${plan_tables[@]}"
  timed first-apply-base "$BASE_SUPCTL" apply -c "$WORK/plan-base" --auto-approve
  rm -rf "$WORK/plan-base" "$WORK/baseline-target"
fi
log "first apply of $((PLAN_CATALOGS * PLAN_UPDATES)) updates (timed once)"
timed first-apply "$SUPCTL" apply -c "$WORK/plan" --auto-approve
# What the apply left: the saved plan per action, and the state directory.
STATE=$WORK/plan/.supctl
plan_file=$(ls -t "$STATE"/plans/*.json | head -n 1)
plan_actions=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["actions"]))' "$plan_file")
plan_bytes=$(stat -c %s "$plan_file")
state_bytes=$(du -sb "$STATE" | cut -f1)
store_bytes=$(stat -c %s "$STATE/store.db")
cache_bytes=$(du -sb "$STATE/cache" | cut -f1)
log "no-op plan vs sha256sum of the $PLAN_CATALOGS CABs ($RUNS pairs)"
pair plan "$SUPCTL plan -c $WORK/plan --detailed-exitcode" sha256sum "sha256sum $WORK/plan-*.cab"
grep -q "No changes" "$RES/plan.out" || { cat "$RES/plan.out" >&2; die "the plan is not a no-op"; }
rm -rf "$WORK/plan" "$WORK"/plan-*.cab

log "metadata-only apply of $APPLY_UPDATES new updates on fresh state directories ($RUNS runs)"
gen --updates "$APPLY_UPDATES" --seed 7 --out "$WORK/apply.cab"
for ((i = 0; i <= RUNS; i++)); do
  write_config "$WORK/apply-$i" "$(catalog_toml bench "$WORK/apply.cab")"
done
"$SUPCTL" apply -c "$WORK/apply-0" --auto-approve >/dev/null 2>&1 # warm-up, own state dir
rm -f "$RES"/apply.*
for ((i = 1; i <= RUNS; i++)); do timed apply "$SUPCTL" apply -c "$WORK/apply-$i" --auto-approve; done
published=$("$SUPCTL" updates list --json --state-dir "$WORK/apply-1/.supctl" 2>/dev/null \
  | python3 -c 'import json,sys; v=json.load(sys.stdin); print(len(v if isinstance(v, list) else v.get("updates", [])))' || echo "?")
[ "$published" = "$APPLY_UPDATES" ] || die "apply published $published updates, expected $APPLY_UPDATES"
rm -rf "$WORK"/apply-* "$WORK/apply.cab"

# ---------------------------------------------------------------- 3. staging verification
log "generating $CONTENT_FILES signed PE files of $CONTENT_MIB MiB"
mkdir -p "$WORK/content"
files=()
for ((i = 1; i <= CONTENT_FILES; i++)); do
  d=$WORK/content-gen
  rm -rf "$d"
  gen --updates 1 --seed $((200 + i)) --out "$d/c.cab" --content-dir "$d/files" --content-size $((CONTENT_MIB << 20))
  f=$(find "$d/files" -type f | sort | head -n 1)
  mv "$f" "$WORK/content/file$i.exe"
  files+=("$WORK/content/file$i.exe")
done
rm -rf "$WORK/content-gen"
content_bytes=$(cat "${files[@]}" | wc -c) # also warms the page cache for both sides
log "staging verification of $((content_bytes >> 20)) MiB vs sha1sum ($RUNS pairs)"
pair verify "$SUPCTL debug verify-content ${files[*]}" sha1sum "sha1sum ${files[*]}"
# Informational: two files at a time, as apply stages them (it runs `concurrency` at once).
log "staging verification with 2 files at a time ($RUNS runs)"
pair verify2 "$SUPCTL debug verify-content --jobs 2 ${files[*]}" "" ""
# Same SHA-1 on both sides, and every file validly signed (verify-content exits 1 otherwise).
python3 - "$RES/verify.out" "$RES/sha1sum.out" <<'EOF' || die "verify-content and sha1sum disagree"
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
theirs = [l.split()[0].upper() for l in open(sys.argv[2]) if l.strip()]
assert [o["sha1"].upper() for o in ours] == theirs
assert all(o["signature"] == "valid" for o in ours)
EOF

# ---------------------------------------------------------------- table
m() { median "$RES/$1.ms"; }
r() { peak "$RES/$1.rss"; }
t() { printf '%s (CPU %s)' "$(secs "$(m "$1")")" "$(secs "$(median "$RES/$1.cpu")")"; }
is=$(m ingest-small) ps=$(m peer-small) il=$(m ingest-large) pl=$(m peer-large)
rs=$(r ingest-small) rps=$(r peer-small) rl=$(r ingest-large) rpl=$(r peer-large)
pm=$(m plan) am=$(m apply) vm=$(m verify) sm=$(m sha1sum) hm=$(m sha256sum)
rh=$(r ingest-huge)
cpu_s=$(awk -v a="$(median "$RES/peer-small.cpu")" -v b="$(median "$RES/ingest-small.cpu")" 'BEGIN {printf "%.1f", a / (b > 0 ? b : 1)}')
cpu_l=$(awk -v a="$(median "$RES/peer-large.cpu")" -v b="$(median "$RES/ingest-large.cpu")" 'BEGIN {printf "%.1f", a / (b > 0 ? b : 1)}')
growth=$(awk -v a="$rl" -v b="$rs" 'BEGIN {printf "%.2f", a / b}')
per_action=$(awk -v b="$plan_bytes" -v n="$plan_actions" 'BEGIN {printf "%.0f", b / n}')
plan_vs_hash=$(awk -v a="$pm" -v b="$hm" 'BEGIN {printf "%.1f", a / b}')
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MB", b / 1000000}'; }
speed_s=$(awk -v a="$ps" -v b="$is" 'BEGIN {printf "%.1f", a / b}')
speed_l=$(awk -v a="$pl" -v b="$il" 'BEGIN {printf "%.1f", a / b}')
scale=$(awk -v a="$il" -v b="$is" 'BEGIN {printf "%.1f", a / b}')
tput() { awk -v b="$content_bytes" -v ms="$1" 'BEGIN {printf "%.0f MiB/s", b / 1048576 / (ms / 1000)}'; }
share=$(awk -v a="$sm" -v b="$vm" 'BEGIN {printf "%.0f", 100 * a / b}')
fmt() { printf "%'d" "$1"; }
if [ -n "$BASELINE" ]; then
  first_limit=$(( $(m first-apply-base) / 2 ))
  first_peer="$(t first-apply-base) (supctl $BASELINE, same catalogs)"
  first_target="wall at most half of $BASELINE's in this run"
  first_peer_rss=$(mib "$(r first-apply-base)")
else
  first_limit=56000 first_peer=none first_peer_rss=""
  first_target="wall at most half of 112 s, the issue's measurement"
fi

cat <<EOF
Mode: $MODE ($RUNS interleaved runs per benchmark; times are medians of wall clock, with the median user + system CPU time; peak RSS is the largest of the runs).
Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(awk '/^MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo); load average at the end $(cut -d' ' -f1-3 /proc/loadavg).
supctl $(git rev-parse --short HEAD 2>/dev/null || echo "?")$(git diff --quiet 2>/dev/null || echo "+dirty"), $(rustc --version | cut -d' ' -f1-2), $(cabextract --version | head -n 1), Python $(python3 -c 'import platform; print(platform.python_version())'), $(sha1sum --version | head -n 1).

| # | benchmark | supctl | peer | supctl vs peer | supctl peak RSS | peer peak RSS | target (issue 19) | result |
|---|---|---|---|---|---|---|---|---|
| 1 | ingest $(fmt "$N_SMALL") updates (verify + extract + parse + categories) | $(t ingest-small) | $(t peer-small) (cabextract + ElementTree) | ${speed_s}x faster, ${cpu_s}x less CPU | $(mib "$rs") | $(mib "$rps") | CPU at least 5x below the peer's | $(verdict cmp "$cpu_s" '>=' 5) |
| 2 | ingest $(fmt "$N_LARGE") updates | $(t ingest-large) | $(t peer-large) | ${speed_l}x faster, ${cpu_l}x less CPU | $(mib "$rl") | $(mib "$rpl") | CPU at least 5x below the peer's | $(verdict cmp "$cpu_l" '>=' 5) |
| 3 | ingest memory at $(fmt "$N_SMALL") / $(fmt "$N_LARGE") / $(fmt "$N_HUGE") updates | $(mib "$rs") / $(mib "$rl") / $(mib "$rh") | | ${growth}x from $(fmt "$N_SMALL") to $(fmt "$N_LARGE") | $(mib "$rl") | $(mib "$rpl") | at $(fmt "$N_LARGE"): at most 128 MiB and 1.5x the $(fmt "$N_SMALL") peak | $(verdict eval "cmp $rl '<=' 131072 && cmp $growth '<=' 1.5") |
| 4 | first \`apply\` of $PLAN_CATALOGS catalogs x $(fmt "$PLAN_UPDATES") updates, fresh state | $(t first-apply) | $first_peer | | $(mib "$(r first-apply)") | $first_peer_rss | peak RSS at most 512 MiB, $first_target | $(verdict eval "cmp $(r first-apply) '<=' 524288 && cmp $(m first-apply) '<=' $first_limit") |
| 5 | that apply's saved plan | $(mb "$plan_bytes"), $(fmt "$plan_actions") actions, $per_action B each | | | | | at most 1 KiB per action | $(verdict cmp "$per_action" '<=' 1024) |
| 6 | the state directory after it | $(mb "$state_bytes") (store $(mb "$store_bytes"), cache $(mb "$cache_bytes")) | | | | | at most 40% of 2.6 GB | $(verdict cmp "$state_bytes" '<=' 1040000000) |
| 7 | no-op \`plan\`, $PLAN_CATALOGS catalogs x $(fmt "$PLAN_UPDATES") updates, warm cache | $(t plan) | $(t sha256sum) (sha256sum of the CABs) | ${plan_vs_hash}x the hashing time | $(mib "$(r plan)") | $(mib "$(r sha256sum)") | at most 2x sha256sum, peak RSS at most 256 MiB | $(verdict eval "cmp $plan_vs_hash '<=' 2 && cmp $(r plan) '<=' 262144") |
| 8 | \`apply --auto-approve\` of $(fmt "$APPLY_UPDATES") new metadata-only updates, fresh state | $(t apply) | none | | $(mib "$(r apply)") | | under 1 s (issue 7) | $(verdict cmp "$am" '<' 1000) |
| 9 | staging verification (SHA-1 + SHA-256 + Authenticode), $CONTENT_FILES x $CONTENT_MIB MiB | $(t verify), $(tput "$vm") | $(t sha1sum) (sha1sum), $(tput "$sm") | ${share}% of sha1sum's throughput | $(mib "$(r verify)") | $(mib "$(r sha1sum)") | at least 70% of sha1sum's throughput | $(verdict cmp "$share" '>=' 70) |

Informational: with two files verified at a time (\`--jobs 2\`; apply stages \`[http] concurrency\` files at once), staging verification took $(t verify2), $(tput "$(m verify2)") = $(awk -v a="$sm" -v b="$(m verify2)" 'BEGIN {printf "%.0f", 100 * a / b}')% of single-process sha1sum's throughput (peak RSS $(mib "$(r verify2)")). Ingest of $(fmt "$N_HUGE") updates (one run): $(t ingest-huge), peak RSS $(mib "$rh").
EOF
if [ "$MODE" = quick ]; then
  echo
  echo "Quick mode: sizes are reduced, so the targets (set for the full sizes) are only indicative."
fi
