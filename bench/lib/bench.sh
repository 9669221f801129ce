# shellcheck shell=sh
# Shell pieces the bench scripts share; source it with
#   . "$ROOT/bench/lib/bench.sh"

# bench_cluster FILE BASE [SNAPSHOT_THRESHOLD]: writes a 3-node cluster
# file on 127.0.0.1 (creating its directory). Node i uses the ports
# BASE+(i-1)*4 .. BASE+(i-1)*4+3 (raft, api, pub, http) and ./node$i as its
# data dir; heartbeat 100 ms, election timeout 1000 ms, and the snapshot
# threshold when given.
bench_cluster() {
	mkdir -p "$(dirname "$1")"
	{
		echo "cluster: bench"
		echo "nodes:"
		for i in 1 2 3; do
			p=$(($2 + (i - 1) * 4))
			echo "  - id: $i"
			echo "    raft: 127.0.0.1:$p"
			echo "    api: tcp://127.0.0.1:$((p + 1))"
			echo "    pub: tcp://127.0.0.1:$((p + 2))"
			echo "    http: 127.0.0.1:$((p + 3))"
			echo "    data: ./node$i"
		done
		echo "raft:"
		echo "  heartbeat_ms: 100"
		echo "  election_timeout_ms: 1000"
		if [ -n "${3:-}" ]; then
			echo "  snapshot_threshold: $3"
		fi
	} >"$1"
}

# bench_nginx_conf FILE DIR PORT PIDFILE: an nginx configuration (2
# workers, keep-alive connections never closed by request count) that
# answers every request on 127.0.0.1:PORT with the same 200 route decision
# routerd returns for deploy/examples/request.json: the HTTP ceiling the
# route benches compare routerd with. Temp files and nginx.err go to DIR.
bench_nginx_conf() {
	cat >"$1" <<EOC
worker_processes 2;
pid $4;
error_log $2/nginx.err;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path $2;
	server {
		listen 127.0.0.1:$3;
		location / {
			default_type application/json;
			return 200 '{"decision":"route","decision_id":"x-1","model":"swift-mid","provider":"acme","tier":"mid","region":"eu-west-1","lane":"online-standard","fallback":[],"max_retries":1,"est_cost_usd":0.06624,"rule":"default","degraded":false,"policy":{"revision":1,"hash":"sha256:0","cohort":"stable"},"registry_revision":1}';
		}
	}
}
EOC
}

# A log line's timestamp: "ts=2026-11-22T11:36:39.436Z" -> epoch ms.
ts_ms() {
	s=$(echo "$1" | sed 's/^ts=\(.*\)\.\([0-9]*\)Z$/\1Z \2/')
	date -d "${s% *}" +%s | awk -v ms="${s#* }" '{ printf "%.0f\n", $1 * 1000 + ms }'
}
# pct FILE: "p50 p99 max" of the numbers in FILE.
pct() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; if (i > NR) i = NR;
		print v[int((NR + 1) / 2)], v[i], v[NR] }'
}

# bench_logs_ms REGEX LOG...: for each LOG, in order, "MS 0" with MS the
# epoch ms of its first line matching REGEX, or "MS 1" when none came
# within 10 s (MS the time of giving up). One grep polls all the logs and
# one awk reads the times, so waiting on hundreds of routerds does not load
# the machine it measures (a grep per log would spawn processes by the
# thousand while the routerds are still at work).
bench_logs_ms() {
	re=$1
	shift
	n=$#
	for _ in $(seq 1 500); do
		[ "$(grep -l -m1 -e "$re" "$@" | wc -l)" -ge "$n" ] && break
		sleep 0.02
	done
	TZ=UTC awk -v re="$re" -v now="$(bench_now_ms)" '
	!(FILENAME in ms) && $0 ~ re &&
	    match($0, /^ts=[0-9-]+T[0-9:]+\.[0-9]+Z/) {
		t = substr($0, 4, RLENGTH - 4)
		gsub(/[-T:]/, " ", t)
		split(t, f, ".")
		ms[FILENAME] = mktime(f[1]) * 1000 + f[2]
	}
	END {
		for (i = 1; i < ARGC; i++)
			if (ARGV[i] in ms) printf "%.0f 0\n", ms[ARGV[i]]
			else printf "%.0f 1\n", now
	}' "$@"
}

# bench_now_ms: milliseconds since the epoch.
bench_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# bench_best_of AF ARGS...: in ms, the fastest of RUNS runs of
# `AF -c $CL_FILE --timeout 60s ARGS -o json`, each timed end to end (af
# process included); the last answer stays in $CL_DIR/out.json.
bench_best_of() {
	bin=$1
	shift
	best=
	for _ in $(seq 1 "$RUNS"); do
		a=$(bench_now_ms)
		"$bin" -c "$CL_FILE" --timeout 60s "$@" -o json >"$CL_DIR/out.json"
		d=$(($(bench_now_ms) - a))
		[ -z "$best" ] || [ "$d" -lt "$best" ] && best=$d
	done
	echo "$best"
}

# bench_cl_init NAME NODES: cl_init of tests/lib/cluster.sh (source it
# first), on the ports of AF_PORT_BASE when that is set.
bench_cl_init() {
	cl_init "$1" "$2"
	if [ -n "${AF_PORT_BASE:-}" ]; then
		# shellcheck disable=SC2034 # read by cl_write_file
		CL_BASE=$AF_PORT_BASE
		cl_write_file "$CL_FILE" "$2" ""
	fi
}
