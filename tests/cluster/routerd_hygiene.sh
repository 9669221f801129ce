#!/bin/sh
# routerd's manners towards controld:
# - idle, it blocks instead of polling: under 2% of a core over 5 s;
# - stopped cleanly it leaves `af fleet status`; SIGKILLed it shows LOST,
#   and a LOST one is forgotten after fleet_forget_s (the leader deletes
#   its record);
# - with a wrong token it backs off (attempts bounded) and controld logs a
#   handful of denial lines, not one per attempt (the counter counts all);
# - against a dead cluster its attempts are bounded too.
. "$(dirname "$0")/../lib/cluster.sh"

tok="tok-routerd-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
adm="tok-admin-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"

cl_init routerd_hygiene
printf '%s routerd rd\n%s admin ops\n' \
	"$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" \
	"$(printf '%s' "$adm" | sha256sum | cut -d' ' -f1)" >"$CL_DIR/tokens"
printf 'auth:\n  tokens: ./tokens\nfleet:\n  forget_s: 40\n  lost_s: 20\n' >>"$CL_FILE"
export AF_TOKEN=$adm
# LOST 20 s after the last report (routerd reports every 10 s; the default
# is 30 s); forgotten 40 s after it.
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
h=$(cl_af policy apply -f "$EXAMPLES/policy.yaml" -o json | jq -r .hash)
P1=$((CL_BASE + 901))
P2=$((CL_BASE + 902))
P3=$((CL_BASE + 903))
AF_TOKEN=$tok cl_routerd_start r1 $P1
AF_TOKEN=$tok cl_routerd_start r2 $P2
cl_wait_route_hash $P1 "$h" >/dev/null
cl_wait_route_hash $P2 "$h" >/dev/null

fleet_ids() { cl_af fleet status -o json | jq -r '[.[] | .id] | sort | join(",")'; }
deadline=$(($(date +%s) + 20))
until [ "$(fleet_ids)" = "r1,r2" ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "fleet: $(fleet_ids)"
	sleep 0.2
done

# Idle CPU from /proc/PID/stat (utime + stime, in clock ticks).
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
pid=$(cat "$CL_DIR/pidr-r1")
sleep 1
a=$(ticks "$pid")
sleep 5
b=$(ticks "$pid")
hz=$(getconf CLK_TCK)
pct=$(echo "scale=2; ($b - $a) * 100 / ($hz * 5)" | bc)
note "idle routerd: $((b - a)) ticks in 5 s (${pct}% of a core)"
[ $(((b - a) * 100)) -lt $((hz * 5 * 2)) ] || fail "idle routerd used ${pct}% of a core"

# A clean stop deregisters; a SIGKILLed routerd stays, LOST 20 s after its
# last report (fleet.lost_s): not 30 s, the default.
cl_routerd_stop r1 TERM
grep -q "event=fleet_deregistered" "$CL_DIR/routerd-r1.log" ||
	fail "r1 did not deregister: $(tail -5 "$CL_DIR/routerd-r1.log")"
[ "$(fleet_ids)" = "r2" ] || fail "after a clean stop, fleet: $(fleet_ids)"
kill -9 "$(cat "$CL_DIR/pidr-r2")"
t_kill=$(date +%s)
deadline=$((t_kill + 45))
until cl_af fleet status -o json >"$CL_DIR/fleet.json" &&
	jq -e 'any(.[]; .id == "r2" and .state == "LOST")' "$CL_DIR/fleet.json" >/dev/null; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "r2 never LOST: $(cat "$CL_DIR/fleet.json")"
	sleep 0.5
done
seen=$(date -d "$(jq -r '.[] | select(.id == "r2") | .last_seen' "$CL_DIR/fleet.json")" +%s%3N)
age=$(($(date +%s%3N) - seen))
note "SIGKILLed r2 LOST after $(($(date +%s) - t_kill)) s, $age ms after its last report"
[ "$age" -gt 20000 ] && [ "$age" -lt 24000 ] ||
	fail "r2 LOST $age ms after its last report (lost_s: 20)"

# A wrong token: backoff and few log lines, while r2 is forgotten.
denied() {
	for i in 1 2 3; do curl -s "http://$(cl_http $i)/metrics"; done |
		awk '/^af_auth_denied_total/ { s += $2 } END { print s + 0 }'
}
lines() { cat "$CL_DIR"/node*.log | grep -c "event=auth_denied" || true; }
d0=$(denied)
l0=$(lines)
AF_TOKEN=wrong-token cl_routerd_start bad $P3
sleep 10
d1=$(denied)
l1=$(lines)
cl_routerd_stop bad TERM
note "wrong token for 10 s: $((d1 - d0)) denials, $((l1 - l0)) log lines"
[ $((d1 - d0)) -ge 2 ] || fail "the wrong token was not even tried ($((d1 - d0)))"
[ $((d1 - d0)) -le 60 ] || fail "$((d1 - d0)) denied attempts in 10 s (no backoff)"
[ $((l1 - l0)) -le 5 ] || fail "$((l1 - l0)) auth_denied log lines in 10 s"

deadline=$((t_kill + 60))
until [ "$(fleet_ids)" = "" ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "LOST r2 never forgotten: $(fleet_ids)"
	sleep 1
done
note "LOST r2 forgotten after $(($(date +%s) - t_kill)) s"
# Forgotten for good: the leader's sweep deleted its record.
deadline=$(($(date +%s) + 20))
until cat "$CL_DIR"/node*.log | grep -q 'event=fleet_forget msg="forgot 1 routerds"'; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "no sweep deleted r2's record"
	sleep 0.5
done

# A dead cluster: attempts bounded.
for i in 1 2 3; do cl_stop $i KILL; done
AF_TOKEN=$tok cl_routerd_start r1 $P1
cl_wait_http "http://127.0.0.1:$P1/healthz" 200 10
e0=$(curl -s "http://127.0.0.1:$P1/metrics" | awk '/^af_routerd_sync_errors_total/ { print $2 }')
sleep 10
e1=$(curl -s "http://127.0.0.1:$P1/metrics" | awk '/^af_routerd_sync_errors_total/ { print $2 }')
n=$(grep -c "event=controld_call_failed" "$CL_DIR/routerd-r1.log" || true)
note "dead cluster for 10 s: $((e1 - e0)) failed syncs, $n log lines"
[ $((e1 - e0)) -le 20 ] || fail "$((e1 - e0)) failed syncs in 10 s (no backoff)"
[ "$n" -le 3 ] || fail "$n controld_call_failed lines"
note ok
