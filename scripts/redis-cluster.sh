#!/usr/bin/env bash
# redis-cluster.sh — a throwaway local Redis Cluster for the tests that need one: three
# masters, no replicas, no persistence, on spare ports beside the shared Redis on 6379.
#
#   scripts/redis-cluster.sh start    start the nodes and form the cluster (idempotent)
#   scripts/redis-cluster.sh stop     shut the nodes down and remove their directory
#   scripts/redis-cluster.sh status   print cluster_state and exit 0 only when it is ok
#
# `start` does nothing but report when the cluster already answers cluster_state:ok. A half
# formed cluster left behind by an interrupted run is shut down and formed again. Concurrent
# runs (parallel test processes) are serialised with a lock file.
#
# Environment:
#   REDIS_CLUSTER_PORTS  the node ports (default "7101 7102 7103"; at least three)
#   REDIS_CLUSTER_DIR    where the nodes keep nodes.conf, logs and pid files
#                        (default ${TMPDIR:-/tmp}/herald-redis-cluster)
#   REDIS_CLUSTER_WAIT   seconds to wait for the nodes and for cluster_state:ok (default 30)
set -euo pipefail

read -r -a PORTS <<<"${REDIS_CLUSTER_PORTS:-7101 7102 7103}"
DIR="${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/herald-redis-cluster}"
WAIT_SECS="${REDIS_CLUSTER_WAIT:-30}"
HOST=127.0.0.1

log() { printf 'redis-cluster: %s\n' "$*"; }
die() { printf 'redis-cluster: %s\n' "$*" >&2; exit 1; }

cli() { redis-cli -h "$HOST" -p "$1" "${@:2}"; }
ping() { [ "$(cli "$1" ping 2>/dev/null)" = "PONG" ]; }
info_field() { cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
state_ok() { [ "$(info_field "$1" cluster_state)" = "ok" ]; }

# all_ok — every node answers and sees a healthy cluster of all the nodes.
all_ok() {
	local p
	for p in "${PORTS[@]}"; do
		state_ok "$p" || return 1
		[ "$(info_field "$p" cluster_known_nodes)" = "${#PORTS[@]}" ] || return 1
	done
}

# wait_until DESCRIPTION CHECK... — poll the check until it succeeds or WAIT_SECS pass.
wait_until() {
	local what="$1" deadline=$((SECONDS + WAIT_SECS))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || die "$what not reached within ${WAIT_SECS}s (logs in $DIR)"
		sleep 0.2
	done
}

# stop_nodes — shut down the nodes this script started (those with a pid file in DIR).
stop_nodes() {
	local p pid
	for p in "${PORTS[@]}"; do
		[ -f "$DIR/$p.pid" ] || continue
		pid="$(cat "$DIR/$p.pid")"
		if kill -0 "$pid" 2>/dev/null; then
			cli "$p" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
			local deadline=$((SECONDS + WAIT_SECS))
			while kill -0 "$pid" 2>/dev/null; do
				[ "$SECONDS" -lt "$deadline" ] || die "node $p (pid $pid) did not stop"
				sleep 0.1
			done
		fi
		rm -f "$DIR/$p.pid"
	done
}

start_nodes() {
	local p
	for p in "${PORTS[@]}"; do
		if ping "$p"; then
			[ -f "$DIR/$p.pid" ] || die "port $p answers but is not a node of this script; set REDIS_CLUSTER_PORTS"
			continue
		fi
		redis-server --port "$p" --bind "$HOST" --daemonize yes \
			--cluster-enabled yes --cluster-config-file "nodes-$p.conf" --cluster-node-timeout 5000 \
			--save "" --appendonly no --dir "$DIR" \
			--pidfile "$DIR/$p.pid" --logfile "$DIR/$p.log" >/dev/null 9>&- ||
			die "could not start redis-server on port $p (see $DIR/$p.log)"
	done
	for p in "${PORTS[@]}"; do
		wait_until "node $p answering" ping "$p"
	done
}

# fresh — true when no node knows any other node and none holds slots: a cluster can be made.
fresh() {
	local p
	for p in "${PORTS[@]}"; do
		[ "$(info_field "$p" cluster_known_nodes)" = "1" ] || return 1
		[ "$(info_field "$p" cluster_slots_assigned)" = "0" ] || return 1
	done
}

create() {
	local p addrs=()
	for p in "${PORTS[@]}"; do
		addrs+=("$HOST:$p")
	done
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$DIR/create.log" 2>&1 ||
		die "redis-cli --cluster create failed (see $DIR/create.log)"
}

start() {
	command -v redis-server >/dev/null || die "redis-server is not installed"
	[ "${#PORTS[@]}" -ge 3 ] || die "a cluster needs at least three masters; REDIS_CLUSTER_PORTS has ${#PORTS[@]}"
	mkdir -p "$DIR"
	exec 9>"$DIR/lock"
	flock -w "$WAIT_SECS" 9 || die "another run holds $DIR/lock"
	if all_ok; then
		log "up on ports ${PORTS[*]} (running)"
		return
	fi
	start_nodes
	if ! fresh; then
		# Give gossip a moment: nodes restarted from their nodes.conf rejoin on their own.
		if (WAIT_SECS=$((WAIT_SECS < 10 ? WAIT_SECS : 10)) wait_until "cluster_state:ok" all_ok) 2>/dev/null; then
			log "up on ports ${PORTS[*]} (rejoined)"
			return
		fi
		log "half-formed cluster found; forming it again"
		stop_nodes
		rm -f "$DIR"/nodes-*.conf "$DIR"/*.log
		start_nodes
	fi
	create
	wait_until "cluster_state:ok on every node" all_ok
	log "up on ports ${PORTS[*]} (started)"
}

stop() {
	[ -d "$DIR" ] || { log "not running"; return; }
	exec 9>"$DIR/lock"
	flock -w "$WAIT_SECS" 9 || die "another run holds $DIR/lock"
	stop_nodes
	rm -rf "$DIR"
	log "stopped"
}

status() {
	if all_ok; then
		log "cluster_state:ok on ports ${PORTS[*]}"
	else
		log "not ok on ports ${PORTS[*]}"
		return 1
	fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*) die "usage: $0 start|stop|status" ;;
esac
