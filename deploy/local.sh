#!/bin/sh
# Local cluster on loopback: three controld nodes from
# deploy/examples/cluster.yaml, data and logs under ./run/.
#   sh deploy/local.sh run      foreground; Ctrl-C stops everything
#   sh deploy/local.sh up       start in the background
#   sh deploy/local.sh status   af cluster status
#   sh deploy/local.sh down     stop (SIGTERM, then wait)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
RUN=${AF_RUN_DIR:-$ROOT/run}
AF="$ROOT/$BUILD/bin/af"
CONTROLD="$ROOT/$BUILD/bin/controld"
EX="$ROOT/deploy/examples"
FILE="$RUN/cluster.yaml"

up() {
	mkdir -p "$RUN"
	# Data dirs in the example are ./run/nodeN relative to the file; the
	# file lives in run/ itself here.
	sed 's|data: ./run/|data: ./|' "$EX/cluster.yaml" >"$FILE"
	"$CONTROLD" -c "$FILE" --id 1 --check >/dev/null
	for id in 1 2 3; do
		if [ -f "$RUN/node$id.pid" ] &&
			kill -0 "$(cat "$RUN/node$id.pid")" 2>/dev/null; then
			echo "node $id already running (pid $(cat "$RUN/node$id.pid"))"
			continue
		fi
		"$CONTROLD" -c "$FILE" --id $id >>"$RUN/node$id.log" 2>&1 &
		echo $! >"$RUN/node$id.pid"
	done
	i=0
	until "$AF" -c "$FILE" --timeout 2s cluster status >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "no leader after 20s; see $RUN/node*.log" >&2; exit 1; }
		sleep 0.2
	done
	"$AF" -c "$FILE" model apply -f "$EX/models.yaml"
	"$AF" -c "$FILE" policy apply -f "$EX/policy.yaml" -m "example policy"
	echo
	"$AF" -c "$FILE" cluster status
	cat <<EOT

af local cluster "local" is up.
  cluster file  $FILE
  controld      api tcp://127.0.0.1:7102 7202 7302 (af, routerd)
                pub tcp://127.0.0.1:7103 7203 7303 (hints, heartbeats)
                http http://127.0.0.1:7104 7204 7304 (/healthz /readyz /metrics)
  logs          $RUN/node{1,2,3}.log

Try, in another shell:
  export AF_CLUSTER=$FILE
  $BUILD/bin/af policy history
  $BUILD/bin/af model list
  $BUILD/bin/af route -f deploy/examples/request.json --explain
  $BUILD/bin/af audit

A sample decision for deploy/examples/request.json:
EOT
	"$AF" -c "$FILE" route -f "$EX/request.json" -o json 2>/dev/null ||
		"$AF" route -f "$EX/request.json" --policy "$EX/policy.yaml" \
			--models "$EX/models.yaml" -o json
}

down() {
	for id in 1 2 3; do
		f="$RUN/node$id.pid"
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$f"
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
