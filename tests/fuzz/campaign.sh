#!/bin/sh
# campaign.sh - the long fuzzing campaign of issue 8, in slices that add up.
#
# Each slice runs one libFuzzer target under nice 19 for SLICE seconds of
# wall time on the seed corpus, the dictionary and everything found so far
# (kept in $CAMPAIGN_DIR/corpus/<target>, outside the repository), and appends
# one line to tests/fuzz/campaign.tsv with the CPU seconds it really got
# (user + system, from /usr/bin/time), its executions and new units. The
# ledger is what `summary` adds up per target: "1 CPU-hour per target" is read
# from CPU time, not from wall time, since a niced fuzzer on a shared machine
# gets less than a full core.
#
#   sh tests/fuzz/campaign.sh run SLICE TARGET...   (binaries from build/fuzz)
#   sh tests/fuzz/campaign.sh summary
#
# A crash stops that target's slice, its input is copied to
# $CAMPAIGN_DIR/crashes/ and the line records crashes=1: fix the bug, commit the
# input as corpus/<target>/regress-<what>.
set -u
here=$(cd "$(dirname "$0")" && pwd)
ledger="$here/campaign.tsv"
CAMPAIGN_DIR=${CAMPAIGN_DIR:-/var/tmp/mailroom-fuzz}
bin_dir=${FUZZ_BIN_DIR:-$here/../../build/fuzz}

summary() {
	printf "%-22s %6s %10s %14s %8s %8s\n" target slices cpu-min executions crashes timeouts
	awk -F'\t' 'NR > 1 { cpu[$2] += $5; ex[$2] += $6; n[$2]++
		if ($8 == "timeout") to[$2]++; else cr[$2] += $8 }
	END {
		for (t in cpu) printf "%-22s %6d %10.1f %14d %8d %8d\n", t, n[t], cpu[t] / 60, ex[t], cr[t], to[t]
	}' "$ledger" | sort
}

run() {
	slice=$1
	shift
	mkdir -p "$CAMPAIGN_DIR/bin" "$CAMPAIGN_DIR/crashes"
	[ -f "$ledger" ] || printf 'date\ttarget\tcommit\twall_s\tcpu_s\texecutions\tnew_units\tcrashes\n' >"$ledger"
	commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
	for t in "$@"; do
		# A private copy: a rebuild of build/fuzz must not change the
		# binary under a running slice.
		cp "$bin_dir/$t" "$CAMPAIGN_DIR/bin/$t" || exit 1
		corpus="$CAMPAIGN_DIR/corpus/$t"
		mkdir -p "$corpus"
		dict=
		[ -f "$here/dict/$t.dict" ] && dict="-dict=$here/dict/$t.dict"
		before=$(ls "$corpus" | wc -l)
		log="$CAMPAIGN_DIR/$t.log"
		cd "$CAMPAIGN_DIR/crashes" || exit 1
		# shellcheck disable=SC2086
		nice -n 19 /usr/bin/time -f 'cpu %U %S' -o "$CAMPAIGN_DIR/$t.time" \
			"$CAMPAIGN_DIR/bin/$t" -max_total_time="$slice" -print_final_stats=1 \
			-rss_limit_mb=1024 -timeout=10 $dict "$corpus" "$here/corpus/$t" \
			>"$log" 2>&1
		rc=$?
		cd - >/dev/null || exit 1
		cpu=$(awk '/^cpu/ { printf "%d", $2 + $3 }' "$CAMPAIGN_DIR/$t.time")
		execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -1)
		wall=$(awk '/Done [0-9]+ runs in/ { print $(NF-1) }' "$log" | tail -1)
		after=$(ls "$corpus" | wc -l)
		# a timeout (an input ran over -timeout=10 s of wall time: also what
		# a SIGSTOP of the slice looks like) is recorded as such, not as a
		# crash; replay the input from $CAMPAIGN_DIR/crashes to judge it
		crashes=0
		if [ "$rc" -ne 0 ]; then
			if grep -q 'ERROR: libFuzzer: timeout' "$log"; then
				crashes=timeout
			else
				crashes=1
			fi
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$t" "$commit" \
			"${wall:-$slice}" "${cpu:-0}" "${execs:-0}" $((after - before)) "$crashes" >>"$ledger"
	done
}

case "${1:-}" in
run)
	shift
	[ $# -ge 2 ] || { echo "usage: $0 run SLICE TARGET..." >&2; exit 2; }
	run "$@"
	;;
summary) summary ;;
*) echo "usage: $0 run SLICE TARGET... | summary" >&2; exit 2 ;;
esac
