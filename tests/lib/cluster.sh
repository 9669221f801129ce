# Shared helpers for the multi-process cluster scenarios in tests/cluster/.
# Real controld processes on 127.0.0.1, free ports, a temp dir per scenario;
# everything started is stopped on exit. Source it, then call cl_init.
set -eu

BUILD=${BUILD:-build}
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
AF="$ROOT/$BUILD/bin/af"
CONTROLD="$ROOT/$BUILD/bin/controld"
ROUTERD="$ROOT/$BUILD/bin/routerd"
EXAMPLES="$ROOT/deploy/examples"

fail() {
	echo "FAIL: $*" >&2
	for f in "${CL_DIR:-/nonexistent}"/node*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }
	done
	exit 1
}

note() { echo "# $*"; }

# cl_log_count FILE REGEX: lines of FILE matching REGEX (0 when none, or
# when FILE does not exist yet: a daemon just started may not have it).
cl_log_count() {
	if [ -f "$1" ]; then
		awk -v re="$2" '$0 ~ re { n++ } END { print n + 0 }' "$1"
	else
		echo 0
	fi
}

# cl_wait_log FILE REGEX [SECONDS] [MIN]: waits until FILE has at least MIN
# (1) lines matching REGEX; prints the last one. An event to wait for,
# where a fixed sleep would guess.
cl_wait_log() {
	deadline=$(($(date +%s) + ${3:-15}))
	while [ "$(cl_log_count "$1" "$2")" -lt "${4:-1}" ]; do
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail "no '$2' in $1 within ${3:-15} s"
		sleep 0.1
	done
	awk -v re="$2" '$0 ~ re { l = $0 } END { print l }' "$1"
}

# cl_routerd_metric PORT NAME: the sum of NAME's samples on routerd's
# /metrics (0 when absent).
cl_routerd_metric() {
	curl -s "http://127.0.0.1:$1/metrics" |
		awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $NF }
			END { printf "%.0f\n", int(s) }'
}

# cl_wait_json CMD JQ [SECONDS]: runs CMD (a shell string) until its JSON
# output satisfies the jq filter JQ; prints that output.
cl_wait_json() {
	deadline=$(($(date +%s) + ${3:-15}))
	while :; do
		out=$(eval "$1" 2>/dev/null) && [ -n "$out" ] &&
			echo "$out" | jq -e "$2" >/dev/null 2>&1 && break
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail "'$1' never satisfied '$2' within ${3:-15} s: $out"
		sleep 0.1
	done
	echo "$out"
}

# Local TCP ports in use, space-separated (listening or connected;
# TIME-WAIT leftovers do not stop a bind with SO_REUSEADDR, which libuv,
# NNG and libmicrohttpd set). ss, not /dev/tcp: the scenarios run under
# sh, which has no /dev/tcp.
used_ports() {
	echo " $(ss -Htan exclude time-wait 2>/dev/null |
		awk '{ n = split($4, a, ":"); print a[n] }' | sort -u | tr '\n' ' ') "
}
# port_free PORT [USED]: nothing holds PORT (USED: a used_ports answer).
port_free() {
	case "${2:-$(used_ports)}" in
	*" $1 "*) return 1 ;;
	esac
	return 0
}
# Picks a base port p such that p+1..p+4 of each node (p + 10*id) are free.
# AF_PORT_BASE=B keeps every port within B..B+999 (parallel runs).
pick_base() {
	for _ in $(seq 1 50); do
		r=$(od -An -N2 -tu2 /dev/urandom)
		if [ -n "${AF_PORT_BASE:-}" ]; then
			base=$((AF_PORT_BASE + (r % 9) * 10))
		else
			base=$((10000 + (r % 1900) * 10))
		fi
		ok=1
		used=$(used_ports)
		for id in 1 2 3 4 5; do
			for k in 1 2 3 4; do
				port_free $((base + id * 100 + k)) "$used" || ok=0
			done
		done
		[ $ok = 1 ] && { echo $base; return 0; }
	done
	echo "no free ports" >&2
	return 1
}

# cl_init NAME [NODES] [extra raft: lines]
cl_init() {
	CL_NAME=$1
	CL_N=${2:-3}
	CL_DIR=$(mktemp -d "/tmp/af-$1.XXXXXX")
	CL_BASE=$(pick_base)
	trap cl_cleanup EXIT INT TERM
	cl_write_file "$CL_DIR/cluster.yaml" "$CL_N" "${3:-}"
	CL_FILE=$CL_DIR/cluster.yaml
}

# cl_write_file FILE N EXTRA_RAFT_YAML [CLUSTER_NAME] [DATA_PREFIX]
cl_write_file() {
	{
		echo "cluster: ${4:-test}"
		echo "nodes:"
		for id in $(seq 1 "$2"); do
			p=$((CL_BASE + id * 100))
			echo "  - id: $id"
			echo "    raft: 127.0.0.1:$((p + 1))"
			echo "    api: tcp://127.0.0.1:$((p + 2))"
			echo "    pub: tcp://127.0.0.1:$((p + 3))"
			echo "    http: 127.0.0.1:$((p + 4))"
			echo "    data: ./${5:-data}/node$id"
		done
		echo "raft:"
		echo "  heartbeat_ms: 100"
		echo "  election_timeout_ms: 1000"
		[ -n "$3" ] && echo "$3"
	} >"$1"
	return 0
}

# cl_tokens ROLE...: a random token per role into T_<role>, the tokens
# file (principal <role>-user) and the cluster file's auth section.
cl_tokens() {
	for r in "$@"; do
		tok="tok-$r-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
		eval "T_$r=$tok"
		printf '%s %s %s-user\n' \
			"$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" \
			"$r" "$r" >>"$CL_DIR/tokens"
	done
	printf 'auth:\n  tokens: ./tokens\n' >>"$CL_FILE"
}

# cl_token_files ROLE...: a random token per role in $CL_DIR/ROLE.token
# (mode 600), the tokens file (principal <role>-user) and the cluster
# file's auth section: for tests of token files.
cl_token_files() {
	for r in "$@"; do
		tok="tok-$r-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
		printf '%s\n' "$tok" >"$CL_DIR/$r.token"
		printf '%s %s %s-user\n' \
			"$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" \
			"$r" "$r" >>"$CL_DIR/tokens"
		chmod 600 "$CL_DIR/$r.token"
	done
	printf 'auth:\n  tokens: ./tokens\n' >>"$CL_FILE"
}

cl_http() { echo "127.0.0.1:$((CL_BASE + $1 * 100 + 4))"; }
cl_api() { echo "tcp://127.0.0.1:$((CL_BASE + $1 * 100 + 2))"; }

# cl_start ID [extra controld args]
cl_start() {
	id=$1
	shift
	"$CONTROLD" -c "$CL_FILE" --id "$id" "$@" >>"$CL_DIR/node$id.log" 2>&1 &
	echo $! >"$CL_DIR/pid$id"
}

cl_pid() { cat "$CL_DIR/pid$1"; }

cl_alive() { kill -0 "$(cl_pid "$1")" 2>/dev/null; }

# stop_pid PID [SIGNAL]: sends the signal, waits up to 10 s for the
# process to end, then SIGKILLs it.
stop_pid() {
	kill "-${2:-TERM}" "$1" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null || true
}

# cl_stop ID [SIGNAL]: stops controld node ID.
cl_stop() { stop_pid "$(cl_pid "$1")" "${2:-TERM}"; }

# Exit status of a stopped node's process (after cl_stop).
cl_wait_exit() {
	wait "$(cl_pid "$1")"
}

cl_af() { "$AF" -c "$CL_FILE" "$@"; }

# Prints the leader id once every listed node agrees there is one.
cl_wait_leader() {
	deadline=$(($(date +%s) + ${1:-20}))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		l=$(cl_af --timeout 2s cluster status -o json 2>/dev/null |
			jq -r '.leader // empty' || true)
		if [ -n "$l" ]; then
			echo "$l"
			return 0
		fi
		sleep 0.1
	done
	fail "no leader within ${1:-20}s"
}

# Waits until every node in "$@" reports the same applied index as the
# leader's commit index (all caught up).
cl_wait_converged() {
	deadline=$(($(date +%s) + 30))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		s=$(cl_af --timeout 2s cluster status -o json 2>/dev/null || true)
		n=$(echo "$s" | jq '[.nodes[] | select(.role != "unreachable") |
			.applied_index] | unique | length' 2>/dev/null || echo 0)
		up=$(echo "$s" | jq '[.nodes[] | select(.role != "unreachable")]
			| length' 2>/dev/null || echo 0)
		if [ "$n" = 1 ] && [ "$up" -ge "${1:-3}" ]; then
			return 0
		fi
		sleep 0.2
	done
	fail "nodes did not converge: $s"
}

# CL_ON_EXIT: a command of the scenario's own (an unmount, a second
# cluster's stop) that cl_cleanup runs once the daemons are stopped,
# keeping the scenario's exit status.
cl_cleanup() {
	rc=$?
	# SIGTERM first: a clean exit also runs the leak checker of a
	# SANITIZE=1 build. Then SIGKILL whatever is left.
	for f in "$CL_DIR"/pid*; do
		[ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null || true
	done
	for _ in $(seq 1 50); do
		left=0
		for f in "$CL_DIR"/pid*; do
			[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && left=1
		done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for f in "$CL_DIR"/pid*; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ -n "${CL_ON_EXIT:-}" ]; then
		eval "$CL_ON_EXIT" || true
	fi
	# Daemons built with SANITIZE=1 report to their logs: any report fails.
	if [ $rc -eq 0 ] && grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" \
		"$CL_DIR"/*.log >/dev/null 2>&1; then
		echo "FAIL: sanitizer report in daemon logs:" >&2
		grep -hE -A12 "ERROR: (Address|Leak)Sanitizer|runtime error:" \
			"$CL_DIR"/*.log | head -60 >&2
		rc=1
	fi
	if [ $rc -eq 0 ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$CL_DIR"
	else
		echo "# kept $CL_DIR" >&2
	fi
	exit $rc
}

# routerd helpers: cl_routerd_start NAME PORT [args]; its log is
# $CL_DIR/routerd-NAME.log and its pid file pidr-NAME.
cl_routerd_start() {
	name=$1
	port=$2
	shift 2
	"$ROUTERD" -c "$CL_FILE" --listen "127.0.0.1:$port" --id "$name" "$@" \
		>>"$CL_DIR/routerd-$name.log" 2>&1 &
	echo $! >"$CL_DIR/pidr-$name"
}

cl_routerd_stop() { stop_pid "$(cat "$CL_DIR/pidr-$1")" "${2:-TERM}"; }

# Waits until `curl URL` answers with HTTP status $2 (default 200).
cl_wait_http() {
	deadline=$(($(date +%s) + ${3:-20}))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null || true)
		[ "$code" = "${2:-200}" ] && return 0
		sleep 0.05
	done
	fail "$1 did not answer ${2:-200} (last: $code)"
}

# Prints the policy hash routerd on PORT decides with for the example.
cl_route_hash() {
	curl -s -X POST --data-binary "@$EXAMPLES/request.json" \
		"http://127.0.0.1:$1/v1/route" | jq -r '.policy.hash // empty'
}

# Milliseconds until routerd on PORT decides with hash $2 (fails after 10s).
cl_wait_route_hash() {
	t0=$(date +%s%N)
	while :; do
		[ "$(cl_route_hash "$1")" = "$2" ] && break
		[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 10000 ] ||
			fail "routerd :$1 never served $2"
		sleep 0.02
	done
	echo $(( ($(date +%s%N) - t0) / 1000000 ))
}

# cl_route_batch PORT FIRST LAST OUT: routes workflows wf-FIRST..wf-LAST
# (the example request otherwise) over one keep-alive connection; one JSON
# decision per line in OUT.
cl_route_batch() {
	awk -v port="$1" -v a="$2" -v b="$3" 'BEGIN {
		for (i = a; i <= b; i++) {
			if (i > a) print "next"
			printf "url = \"http://127.0.0.1:%s/v1/route\"\n", port
			printf "data = \"{\\\"workflow_id\\\":\\\"wf-%d\\\",\\\"tenant\\\":\\\"claims-team\\\",\\\"class\\\":\\\"research-agent\\\",\\\"input_tokens\\\":18240,\\\"output_tokens\\\":960,\\\"needs\\\":[\\\"tools\\\"]}\"\n", i
			print "write-out = \"\\n\""
		}
	}' >"$CL_DIR/batch.cfg"
	curl -s -K "$CL_DIR/batch.cfg" | grep -v '^$' >"$4"
}

# cl_report_batch PORT DECISIONS OK_STABLE OK_CANARY LATENCY_MS
# [QUALITY_STABLE QUALITY_CANARY]: reports an outcome for every routed
# decision, ok (and quality, when given) per cohort.
cl_report_batch() {
	jq -c --argjson oks "$3" --argjson okc "$4" --argjson lat "$5" \
		--argjson qs "${6:-null}" --argjson qc "${7:-null}" '
		select(.decision == "route") |
		{decision_id, workflow_id: "wf", tenant: "claims-team",
		 class: "research-agent", model, region,
		 ok: (if .policy.cohort == "canary" then $okc else $oks end),
		 latency_ms: $lat, input_tokens: 18240, output_tokens: 960,
		 revision: .policy.revision} +
		(if $qs == null then {} else
		 {quality: (if .policy.cohort == "canary" then $qc else $qs end)}
		 end)' "$2" |
		awk -v port="$1" '{
			if (NR > 1) print "next"
			gsub(/\\/, "\\\\"); gsub(/"/, "\\\"")
			printf "url = \"http://127.0.0.1:%s/v1/report\"\n", port
			printf "data = \"%s\"\n", $0
			print "write-out = \"%{http_code}\\n\""
			print "output = \"/dev/null\""
		}' >"$CL_DIR/report.cfg"
	if [ ! -s "$CL_DIR/report.cfg" ]; then
		echo 0 # nothing was routed: nothing to report
		return 0
	fi
	curl -s -K "$CL_DIR/report.cfg" | grep -c '^202$'
}

# cl_traffic PORT FIRST LAST OUT OK_STABLE OK_CANARY LATENCY_MS
# [QUALITY_STABLE QUALITY_CANARY]: routes wf-FIRST..wf-LAST in chunks of
# 200 and reports each chunk's outcomes (as an orchestrator would,
# releasing lane in-flight); decisions in OUT.
cl_traffic() {
	: >"$4"
	i=$2
	while [ "$i" -le "$3" ]; do
		j=$((i + 199))
		[ $j -gt "$3" ] && j=$3
		cl_route_batch "$1" "$i" "$j" "$CL_DIR/chunk"
		cl_report_batch "$1" "$CL_DIR/chunk" "$5" "$6" "$7" "${8:-}" "${9:-}" >/dev/null
		cat "$CL_DIR/chunk" >>"$4"
		i=$((j + 1))
	done
}
