#!/bin/sh
# Local cluster on loopback: three controld nodes from
# deploy/examples/cluster.yaml and one routerd, data and logs under ./run/.
#   sh deploy/local.sh run      foreground; Ctrl-C stops everything
#   sh deploy/local.sh up       start in the background whatever is not
#                               running (safe to run again, e.g. to restart
#                               a killed node)
#   sh deploy/local.sh status   af cluster status
#   sh deploy/local.sh down     stop (SIGTERM, then wait)
# The example models and policy are applied only to a cluster that has
# none yet: a restart never replaces what you applied.
# Environment: AF_RUN_DIR (default ./run), AF_PORT_OFFSET (added to every
# port, default 0), AF_ROUTERD_PORT (default 8080 + AF_PORT_OFFSET).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
RUN=${AF_RUN_DIR:-$ROOT/run}
OFF=${AF_PORT_OFFSET:-0}
RPORT=${AF_ROUTERD_PORT:-$((8080 + OFF))}
AF="$ROOT/$BUILD/bin/af"
CONTROLD="$ROOT/$BUILD/bin/controld"
ROUTERD="$ROOT/$BUILD/bin/routerd"
EX="$ROOT/deploy/examples"
FILE="$RUN/cluster.yaml"

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# The example file with data dirs relative to run/ and ports shifted.
write_file() {
	awk -v off="$OFF" '
		/^ *(raft|api|pub|http): / {
			n = split($0, a, ":")
			a[n] = a[n] + off
			s = a[1]
			for (i = 2; i <= n; i++) s = s ":" a[i]
			print s
			next
		}
		{ sub(/data: \.\/run\//, "data: ./"); print }' \
		"$EX/cluster.yaml" >"$FILE.new"
	mv "$FILE.new" "$FILE"
}

# Prints the number of entries of a JSON array that `af ... -o json` gives.
count() { # a list's length; paged lists (policy history) are objects
	"$AF" -c "$FILE" "$@" -o json |
		jq 'if type == "object" then .revisions | length else length end'
}

up() {
	mkdir -p "$RUN"
	write_file
	for id in 1 2 3; do
		if running "$RUN/node$id.pid"; then
			echo "node $id already running (pid $(cat "$RUN/node$id.pid"))"
			continue
		fi
		"$CONTROLD" -c "$FILE" --id $id --check >/dev/null
		"$CONTROLD" -c "$FILE" --id $id >>"$RUN/node$id.log" 2>&1 &
		echo $! >"$RUN/node$id.pid"
	done
	i=0
	until "$AF" -c "$FILE" --timeout 2s policy history >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "no leader after 20s; see $RUN/node*.log" >&2; exit 1; }
		sleep 0.2
	done
	if [ "$(count model list)" = 0 ]; then
		"$AF" -c "$FILE" model apply -f "$EX/models.yaml"
	else
		echo "models: already applied (kept)"
	fi
	if [ "$(count policy history)" = 0 ]; then
		"$AF" -c "$FILE" policy apply -f "$EX/policy.yaml" -m "example policy"
	else
		echo "policy: revision $("$AF" -c "$FILE" policy history --limit 1 -o json |
			jq '.revisions[0].revision') already applied (kept)"
	fi
	if running "$RUN/routerd.pid"; then
		echo "routerd already running (pid $(cat "$RUN/routerd.pid"))"
	else
		mkdir -p "$RUN/routerd-cache"
		"$ROUTERD" -c "$FILE" --listen "127.0.0.1:$RPORT" --id local \
			--cache "$RUN/routerd-cache" >>"$RUN/routerd.log" 2>&1 &
		echo $! >"$RUN/routerd.pid"
	fi
	i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' \
		"http://127.0.0.1:$RPORT/readyz" 2>/dev/null)" = 200 ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "routerd not ready after 20s; see $RUN/routerd.log" >&2; exit 1; }
		sleep 0.2
	done
	echo
	"$AF" -c "$FILE" cluster status
	p1=$((7101 + OFF))
	cat <<EOT

af local cluster "local" is up.
  cluster file  $FILE
  controld      raft 127.0.0.1:$p1 $((p1 + 100)) $((p1 + 200))
                api tcp://127.0.0.1:$((p1 + 1)) $((p1 + 101)) $((p1 + 201)) (af, routerd)
                pub tcp://127.0.0.1:$((p1 + 2)) $((p1 + 102)) $((p1 + 202)) (hints, heartbeats)
                http http://127.0.0.1:$((p1 + 3)) $((p1 + 103)) $((p1 + 203)) (/healthz /readyz /metrics)
  routerd       http://127.0.0.1:$RPORT (/v1/route /v1/report /metrics)
  logs          $RUN/node{1,2,3}.log $RUN/routerd.log

Try, in another shell:
  export AF_CLUSTER=$FILE
  $BUILD/bin/af policy history
  $BUILD/bin/af model list
  curl -s -X POST --data-binary @deploy/examples/request.json http://127.0.0.1:$RPORT/v1/route

A sample decision from routerd for deploy/examples/request.json:
EOT
	curl -s -X POST --data-binary "@$EX/request.json" \
		"http://127.0.0.1:$RPORT/v1/route"
	echo
}

stop_pidfile() {
	f=$1
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$f"
}

down() {
	stop_pidfile "$RUN/routerd.pid"
	for id in 1 2 3; do
		stop_pidfile "$RUN/node$id.pid"
	done
	echo "stopped"
}

case "${1:-run}" in
up) up ;;
down) down ;;
status) "$AF" -c "$FILE" cluster status ;;
run)
	trap 'echo; down; exit 0' INT TERM
	up
	echo
	echo "Ctrl-C stops the cluster."
	while :; do sleep 1; done
	;;
*)
	echo "usage: $0 run|up|down|status" >&2
	exit 2
	;;
esac
