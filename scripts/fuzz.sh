#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads input from outside (see fuzz/README.md).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    # default: 60 CPU-seconds per target, all targets
#
# SECONDS is CPU time, not wall time, so runs on a busy machine are comparable: the fuzzer is
# stopped (SIGINT, which makes libFuzzer print its final statistics) once its process has
# used that much CPU. Each target prints one summary line: CPU seconds, executions, coverage
# edges, features, corpus size, findings.
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Each target's
# corpus lives in fuzz/corpus/TARGET (not committed): it is seeded from fuzz/seeds/TARGET and
# the project's own fixtures, and grows from run to run. Crashes land in fuzz/artifacts/TARGET;
# the script exits 1 if any target found one. CI does not run this: it takes hours to mean
# anything, and the regression tests the findings became run in `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(cab authenticode sdp_xml v3_json config soap plan_file)

command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 2; }
rustup toolchain list | grep -q '^nightly' || { echo "the nightly toolchain is missing: rustup toolchain install nightly" >&2; exit 2; }

# The seeds a target starts from: its committed seeds plus the project's fixtures it reads.
seed() {
  local target=$1 dir=fuzz/corpus/$1
  mkdir -p "$dir"
  cp -n fuzz/seeds/"$target"/* "$dir"/ 2>/dev/null || true
  case $target in
    cab)
      for f in tests/fixtures/catalog/*.cab tests/fixtures/signed/catalog-*.cab tests/fixtures/e2e/*/*.cab examples/quickstart/catalog/*.cab; do
        cp -n "$f" "$dir/fixture-$(basename "$(dirname "$f")")-$(basename "$f")"
      done ;;
    authenticode)
      # The first byte picks the reader: 0 bare PKCS#7, 1 CAB, 2 PE, 3 MSI.
      for f in tests/fixtures/signed/*; do
        case $f in
          *.cab) sel='\001' ;;
          *.exe) sel='\002' ;;
          *.msi) sel='\003' ;;
          *) continue ;;
        esac
        { printf "$sel"; cat "$f"; } > "$dir/fixture-$(basename "$f")"
      done ;;
    sdp_xml)
      cp -n tests/fixtures/catalog/src/QuirksCatalog.xml tests/fixtures/catalog/package.sdp "$dir"/
      cp -n tests/fixtures/catalog/src/V2/*.sdp "$dir"/ ;;
    v3_json)
      local v3=tests/fixtures/catalog/src/V3
      { cat "$v3/update_categories.json"
        for f in "$v3"/a*.json; do printf '#next#\n'; cat "$f"; done
      } > "$dir/fixture-catalog-v3" ;;
    config)
      cp -n examples/quickstart/supctl.toml "$dir/quickstart.toml"
      for f in examples/gitops/*.toml; do cp -n "$f" "$dir/gitops-$(basename "$f")"; done ;;
    soap|plan_file) ;;
  esac
}

dict() {
  case $1 in
    sdp_xml) echo fuzz/dicts/sdp_xml.dict ;;
    soap) echo fuzz/dicts/soap.dict ;;
    config) echo fuzz/dicts/config.dict ;;
    v3_json|plan_file) echo fuzz/dicts/json.dict ;;
    *) echo "" ;;
  esac
}

found=0
tick=$(getconf CLK_TCK)
triple=$(rustc -vV | sed -n 's/^host: //p')
for t in "${targets[@]}"; do
  seed "$t"
  cargo +nightly fuzz build "$t" >/dev/null 2>&1 || { cargo +nightly fuzz build "$t"; exit 2; }
  bin=fuzz/target/$triple/release/$t
  mkdir -p "fuzz/artifacts/$t"
  args=(-print_final_stats=1 -max_total_time=$((seconds * 4)) -artifact_prefix="fuzz/artifacts/$t/")
  d=$(dict "$t")
  [ -n "$d" ] && args+=(-dict="$d")
  log=$(mktemp) marker=$(mktemp)
  "$bin" "${args[@]}" "fuzz/corpus/$t" >"$log" 2>&1 &
  pid=$!
  cpu=0
  while kill -0 "$pid" 2>/dev/null; do
    read -r -a st < "/proc/$pid/stat" 2>/dev/null || break
    cpu=$(( (st[13] + st[14]) / tick ))
    if [ "$cpu" -ge "$seconds" ]; then kill -INT "$pid"; break; fi
    sleep 2
  done
  wait "$pid" || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
  crashes=$(find "fuzz/artifacts/$t" -type f -newer "$marker" | wc -l)
  rm -f "$marker"
  printf '%-13s cpu %5ss  execs %10s  cov %6s  ft %7s  corpus %6s  findings %s\n' \
    "$t" "$cpu" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
  if [ "$crashes" -gt 0 ] || grep -qE '==[0-9]+==ERROR|panicked at' "$log"; then
    echo "!! $t: a finding, see fuzz/artifacts/$t and $log"
    found=1
  else
    rm -f "$log"
  fi
done
exit "$found"
