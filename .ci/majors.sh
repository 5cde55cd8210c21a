#!/usr/bin/env bash
# The round trip (tests/suite/round_trip.rs), adopt of the deployed ArcDesk database and a clean live-drift check on every PostgreSQL major in ${ARCDB_MAJORS:-14 16 17 18}
# (15, the machine's Debian PostgreSQL, gets the full suite from `cargo test` in .ci/run).
#
# For each major: install its server binaries with .ci/pg-binaries.sh (cached, see there), run
#   ARCDB_PG_BIN=<bin dir> cargo test --test suite -- round_trip:: --nocapture
# and record the result of every step with the exact server version. Prints a summary table and
# exits non-zero if any major failed. Full logs: target/majors/<major>.log.
#
#   .ci/majors.sh                      # 14 16 17 18
#   ARCDB_MAJORS="13 18" .ci/majors.sh # 13 exists on PyPI only without contrib: reported, fails
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a majors <<<"${ARCDB_MAJORS:-14 16 17 18}"
steps=(up status seed verify-rls refresh rollback up-again)
logs=target/majors
mkdir -p "$logs"
overall_start=$(date +%s)

# Tab-separated lines → columns padded with spaces (`column` is not on every machine).
align_columns() {
  awk -F'\t' '
    { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n[NR] = NF }
    END { for (r = 1; r <= NR; r++) { line = ""
            for (i = 1; i <= n[r]; i++) line = line (i < n[r] ? sprintf("%-" w[i] + 2 "s", cell[r, i]) : cell[r, i])
            print line } }'
}

now_ms() { date +%s%3N; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1fs", ms / 1000 }'; }

echo "majors: building the round-trip test"
build_start=$(now_ms)
cargo test --quiet --test suite --no-run 2>&1 | grep -v '^ *Executable' >&2 || true
# (a build failure shows up again, with its errors, in every major's run below)
build_time=$(secs $(($(now_ms) - build_start)))

declare -A row_version row_install row_test row_result row_steps row_extra
passed=0
failed=0

for major in "${majors[@]}"; do
  log=$logs/$major.log
  : >"$log"
  echo "majors: PostgreSQL $major"

  # Install (or reuse) the binaries.
  t0=$(now_ms)
  set +e
  bin=$(.ci/pg-binaries.sh "$major" 2>>"$log")
  rc=$?
  set -e
  sed 's/^/  /' "$log"
  row_install[$major]=$(secs $(($(now_ms) - t0)))
  row_version[$major]=-
  row_test[$major]=-
  row_steps[$major]=
  row_extra[$major]=-
  if [ $rc -ne 0 ]; then
    if [ $rc -eq 3 ]; then
      row_result[$major]="FAIL: no contrib (citext) in PyPI's build"
    else
      row_result[$major]="FAIL: install (exit $rc)"
    fi
    failed=$((failed + 1))
    continue
  fi

  # The round trip.
  t0=$(now_ms)
  set +e
  ARCDB_PG_BIN=$bin RUST_BACKTRACE=0 cargo test --quiet --test suite -- round_trip:: --nocapture >>"$log" 2>&1
  rc=$?
  set -e
  row_test[$major]=$(secs $(($(now_ms) - t0)))

  # adopt of the deployed ArcDesk database, a clean live-drift check and the catalog fingerprint's
  # soundness (what each major updates in place), on this major too.
  row_extra[$major]=ok
  for extra in "adopt adopt_keeps_every_row_and_the_schema_equals_a_fresh_up" \
               "drift a_clean_database_reports_no_drift_and_the_expected_schema_is_cached" \
               "drift every_kind_of_change_alone_defeats_the_catalog_fingerprint"; do
    read -r test_bin test_name <<<"$extra"
    if ! ARCDB_PG_BIN=$bin RUST_BACKTRACE=0 cargo test --quiet --test suite -- --exact "$test_bin::$test_name" >>"$log" 2>&1; then
      row_extra[$major]="FAIL: $test_bin"
      rc=1
    fi
  done

  version=$(sed -n 's/^round-trip: server PostgreSQL \([^ ]*\) .*/\1/p' "$log" | head -n1)
  if [ -z "$version" ]; then
    version=$("$bin/postgres" --version 2>/dev/null | awk '{ print $3 }') || version=?
  fi
  row_version[$major]=$version

  # One cell per step: ok, n/a (subcommand not in this build), FAIL (where it stopped), - (not reached).
  cells=
  reached=1
  for step in "${steps[@]}"; do
    line=$(grep -m1 "^round-trip: step $step: " "$log" || true)
    case "$line" in
      *": ok "*) cell=ok ;;
      *": not in this build "*) cell=n/a ;;
      *)
        if [ $reached -eq 1 ]; then cell=FAIL; reached=0; else cell=-; fi
        ;;
    esac
    cells+="$cell "
  done
  row_steps[$major]=$cells

  if [ $rc -eq 0 ] && [ "${version%%[.a-z]*}" = "$major" ]; then
    row_result[$major]=pass
    passed=$((passed + 1))
    grep '^round-trip: ' "$log" | sed 's/^/  /'
  else
    if [ $rc -eq 0 ]; then
      row_result[$major]="FAIL: ran on $version, not $major"
    else
      row_result[$major]="FAIL (exit $rc, see $log)"
    fi
    failed=$((failed + 1))
    echo "  round trip on PostgreSQL $major failed; its log ($log):"
    sed 's/^/  | /' "$log" | tail -n 60
  fi
done

# Summary.
echo
echo "majors: summary (round-trip test built in $build_time; ok = ran and passed, n/a = subcommand not in this build)"
{
  printf 'major\tserver\tinstall\ttest'
  printf '\t%s' "${steps[@]}"
  printf '\tadopt+drift\tresult\n'
  for major in "${majors[@]}"; do
    printf '%s\t%s\t%s\t%s' "$major" "${row_version[$major]}" "${row_install[$major]}" "${row_test[$major]}"
    read -r -a cells <<<"${row_steps[$major]:-}"
    for i in "${!steps[@]}"; do printf '\t%s' "${cells[$i]:--}"; done
    printf '\t%s\t%s\n' "${row_extra[$major]}" "${row_result[$major]}"
  done
} | align_columns | tee "$logs/summary.txt"
echo "majors: $passed passed, $failed failed"
echo "majors: done in $(($(date +%s) - overall_start))s"
[ "$failed" -eq 0 ]
