#!/bin/sh
# Propagation: from `af policy apply` returning until N routerds all serve
# the new hash, and what distribution costs controld. Real processes on
# 127.0.0.1: a 3-node controld cluster and N routerds (default 1, 10, 50,
# 100). Each routerd logs event=view_activated (with a millisecond
# timestamp) right after it swapped the view in, so the measurement adds no
# polling load. Prints, per N:
# - p50/p99/max over APPLIES applies, from `af policy apply` returning (the
#   figure the goals name; 0 when every routerd activated before af even
#   exited) and from its start (includes the af process and the commit);
# - how each routerd got the change: Syncs served (pulled) and change
#   hints that carried the Sync answer (pushed; controld's
#   af_pub_pushes_total, one per node per apply);
# - controld CPU (utime+stime of all 3 nodes from /proc) per published
#   hint or heartbeat while idle, and per activation during the applies
#   (per routerd per apply, the idle rate subtracted; the apply and commit
#   are included, so it is an upper bound);
# - routerd CPU per activation (all routerds' utime+stime over the
#   applies, their idle rate subtracted, per routerd per apply), and the
#   least time N of them take on this machine's cores;
# - routerd idle CPU (one routerd, 30 s, /proc utime+stime), once;
# - a model for 5,000 routerds from the measured controld cost per
#   activation.
# BEFORE=DIR runs the same with the binaries in DIR/bin first (e.g. an
# older build) and prints the ratio of the p99s.
# Usage: sh bench/propagation.sh [APPLIES] ["N1 N2 ..."]   (after `make`)
set -eu
APPLIES=${1:-20}
COUNTS=${2:-1 10 50 100}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/bench.sh"
. "$ROOT/tests/lib/cluster.sh"
cl_init propagation
HZ=$(getconf CLK_TCK)

ticks() { # utime+stime of the pids given, in clock ticks (one awk)
	for p in "$@"; do echo "/proc/$p/stat"; done | xargs awk '
		{ t += $14 + $15 } END { print t + 0 }'
}
ctl_ticks() { ticks "$(cl_pid 1)" "$(cl_pid 2)" "$(cl_pid 3)"; }
ctl_sum() { # ctl_sum REGEX: a metric summed over the 3 nodes
	for i in 1 2 3; do curl -s "http://$(cl_http $i)/metrics"; done |
		awk -v re="$1" '$1 ~ re { t += $2 } END { print t + 0 }'
}
# routerd idle CPU: one routerd, 30 s with no traffic and no change.
idle_cpu() { # idle_cpu PID SECONDS: percent of one core
	t0=$(ticks "$1")
	sleep "$2"
	t1=$(ticks "$1")
	awk -v d=$((t1 - t0)) -v hz="$HZ" -v s="$2" \
		'BEGIN { printf "%.2f\n", 100 * d / hz / s }'
}

# run BIN_DIR LABEL: the whole series with the binaries in BIN_DIR.
run() {
	AF=$1/af CONTROLD=$1/controld ROUTERD=$1/routerd
	rm -rf "$CL_DIR"/data "$CL_DIR"/routerd-* "$CL_DIR"/lat-* "$CL_DIR"/start-* \
		"$CL_DIR"/missed-*
	for i in 1 2 3; do cl_start $i; done
	cl_wait_leader >/dev/null
	cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
	cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null
	started=0
	for n in $COUNTS; do
		while [ $started -lt "$n" ]; do
			started=$((started + 1))
			cl_routerd_start "r$started" $((CL_BASE + 1000 + started))
		done
		for k in $(seq 1 $started); do
			cl_wait_http "http://127.0.0.1:$((CL_BASE + 1000 + k))/readyz" 200 60
		done
		if [ "$n" = 1 ] && [ "${IDLE_S:-30}" -gt 0 ]; then
			sleep 2
			echo "$2 routerd_idle_cpu_pct $(idle_cpu "$(cat "$CL_DIR/pidr-r1")" "${IDLE_S:-30}") (${IDLE_S:-30} s, /proc utime+stime)"
		fi
		logs='' rpids=''
		for k in $(seq 1 $started); do
			logs="$logs $CL_DIR/routerd-r$k.log"
			rpids="$rpids $(cat "$CL_DIR/pidr-r$k")"
		done
		# Idle: heartbeats only (and whatever telemetry the routerds
		# send): controld CPU per published message, routerd CPU.
		sleep 2
		# shellcheck disable=SC2086 # lists of pids
		c0=$(ctl_ticks) m0=$(ctl_sum '^af_pub_messages_total') r0=$(ticks $rpids)
		sleep 5
		# shellcheck disable=SC2086 # lists of pids
		c1=$(ctl_ticks) m1=$(ctl_sum '^af_pub_messages_total') r1=$(ticks $rpids)
		idle_rate=$(awk -v d=$((c1 - c0)) 'BEGIN { print d / 5 }')
		ridle_rate=$(awk -v d=$((r1 - r0)) 'BEGIN { print d / 5 }')
		: >"$CL_DIR/lat-$n"
		: >"$CL_DIR/start-$n"
		: >"$CL_DIR/missed-$n"
		# shellcheck disable=SC2086 # lists of pids
		r0=$(ticks $rpids)
		s0=$(ctl_sum 'verb="sync",result="ok"') c0=$(ctl_ticks) w0=$(bench_now_ms)
		pu0=$(ctl_sum '^af_pub_pushes_total[{]result="carried"')
		for a in $(seq 1 "$APPLIES"); do
			sed "s/^name: prod/name: prop-$n-$a/" "$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
			ts=$(bench_now_ms)
			h=$(cl_af policy apply -f "$CL_DIR/p.yaml" -o json | jq -r .hash)
			t0=$(bench_now_ms)
			k=0 worst=0 worst_start=0
			# shellcheck disable=SC2086 # a list of files
			while read -r t m; do
				k=$((k + 1))
				# Never within the wait: counted, at the wait.
				[ "$m" = 1 ] && echo "r$k $h" >>"$CL_DIR/missed-$n"
				d=$((t - t0))
				[ $d -lt 0 ] && d=0
				[ $d -gt $worst ] && worst=$d
				d=$((t - ts))
				[ $d -gt $worst_start ] && worst_start=$d
			done <<-EOF2
				$(bench_logs_ms "event=view_activated.*hash=$h" $logs)
			EOF2
			echo $worst >>"$CL_DIR/lat-$n"
			echo $worst_start >>"$CL_DIR/start-$n"
		done
		s1=$(ctl_sum 'verb="sync",result="ok"') c1=$(ctl_ticks) w1=$(bench_now_ms)
		pu1=$(ctl_sum '^af_pub_pushes_total[{]result="carried"')
		# shellcheck disable=SC2086 # lists of pids
		r1=$(ticks $rpids)
		read -r p50 p99 max <<-EOF2
			$(pct "$CL_DIR/lat-$n")
		EOF2
		read -r sp50 sp99 smax <<-EOF2
			$(pct "$CL_DIR/start-$n")
		EOF2
		awk -v l="$2" -v n="$n" -v a="$APPLIES" -v p50="$p50" -v p99="$p99" \
			-v max="$max" -v sp50="$sp50" -v sp99="$sp99" -v smax="$smax" \
			-v ci=$((c1 - c0)) -v idle="$idle_rate" -v hz="$HZ" \
			-v msgs=$((m1 - m0)) -v syncs=$((s1 - s0)) -v pushes=$((pu1 - pu0)) \
			-v secs=$(((w1 - w0) / 1000)) \
			-v ri=$((r1 - r0)) -v ridle="$ridle_rate" -v cpus="$(nproc)" \
			-v missed="$(wc -l <"$CL_DIR/missed-$n")" \
			-v last="$(echo $COUNTS | awk '{ print $NF }')" 'BEGIN {
			hint_us = msgs ? 1e6 * idle * 5 / hz / msgs : 0
			busy = ci - idle * secs; if (busy < 0) busy = 0
			ctl_us = 1e6 * busy / hz / (n * a)
			rbusy = ri - ridle * secs; if (rbusy < 0) rbusy = 0
			act_us = 1e6 * rbusy / hz / (n * a)
			printf "%-7s %-9d %-8d %-22s %-22s %-8d %-10.0f %-8d %-8d %-10.0f %-10.0f\n",
				l, n, a, p50 "/" p99 "/" max, sp50 "/" sp99 "/" smax,
				msgs, hint_us, syncs, pushes, ctl_us, act_us
			printf "%s %d routerds: %.0f us of routerd CPU per activation; %d of them on %d CPUs take at least %.0f ms\n",
				l, n, act_us, n, cpus, n * act_us / cpus / 1000
			if (missed > 0)
				printf "%s %d routerds: %d activations not seen within the wait (counted at the wait)\n", l, n, missed
			if (n == last) {
				printf "%s model 5000 routerds: %.0f ms of controld CPU per apply, 3 nodes together (%.0f us per activation)\n",
					l, 5000 * ctl_us / 1000, ctl_us
			}
		}' | tee -a "$CL_DIR/summary"
	done
	for k in $(seq 1 $started); do cl_routerd_stop "r$k" KILL; done
	for i in 1 2 3; do cl_stop $i; done
	for i in 1 2 3; do cl_wait_exit $i 2>/dev/null || true; done
}

printf '%-7s %-9s %-8s %-22s %-22s %-8s %-10s %-8s %-8s %-10s %-10s\n' build routerds applies \
	"return p50/p99/max ms" "start p50/p99/max ms" idle_msgs us/msg syncs pushes ctl_us/act rd_us/act
if [ -n "${BEFORE:-}" ]; then
	run "$BEFORE/bin" before
fi
run "$ROOT/$BUILD/bin" after
if [ -n "${BEFORE:-}" ]; then
	awk '$1 == "before" && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { split($4, b, "/"); bp[$2] = b[2] }
	     $1 == "after" && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { split($4, a, "/"); ap[$2] = a[2] }
	     END { for (n in ap) if (n in bp) printf "p99 at %d routerds: before %d ms, after %d ms (%.2fx)\n", n, bp[n], ap[n], ap[n] ? bp[n] / ap[n] : 0 }' \
		"$CL_DIR/summary"
fi
