#!/usr/bin/env bash
# services-up.sh — make sure the local services Herald and its tests talk to are running:
# MariaDB (127.0.0.1:3306), Redis (6379), RabbitMQ (5672) and Mosquitto (1883).
#
# For each service: if its port answers, nothing is done. Otherwise the Debian package is
# installed when the server binary is missing, the server is started with the same command
# the development machines use, and the script waits (bounded) until it answers.
# Idempotent: running it again when everything is up only prints the status lines.
#
# Environment:
#   SERVICES_WAIT   seconds to wait for each service to answer (default 60)
set -euo pipefail

WAIT_SECS="${SERVICES_WAIT:-60}"
APT_UPDATED=0

log() { printf '%s\n' "$*"; }
die() { printf 'services-up: %s\n' "$*" >&2; exit 1; }

# port_open PORT — true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# apt_install PKG... — install Debian packages, running apt-get update once per script run.
apt_install() {
	command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
	[ "$(id -u)" = 0 ] || die "installing $* needs root"
	if [ "$APT_UPDATED" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# wait_for NAME CHECK-COMMAND... — poll the check until it succeeds or WAIT_SECS pass.
wait_for() {
	local name="$1"
	shift
	local deadline=$((SECONDS + WAIT_SECS))
	until "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			die "$name did not answer within ${WAIT_SECS}s (check: $*)"
		fi
		sleep 1
	done
}

# ---------------------------------------------------------------------------------------
# MariaDB

mariadb_tcp_root() { mariadb --protocol=tcp -h127.0.0.1 -P3306 -uroot -e 'select 1'; }
mariadb_ready() { port_open 3306 && { mariadb -uroot -e 'select 1' || mariadb_tcp_root; }; }

mariadb_up() {
	local state="running"
	if ! port_open 3306; then
		if [ ! -x /usr/sbin/mariadbd ]; then
			apt_install mariadb-server mariadb-client
		fi
		mkdir -p /run/mysqld /var/log/mysql
		chown mysql:mysql /run/mysqld /var/log/mysql
		if [ ! -d /var/lib/mysql/mysql ]; then
			mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
		fi
		# The machines' my.cnf says `user = mysql`; Debian's stock config leaves it to
		# systemd, and mariadbd refuses to run as root without it.
		local extra=()
		if ! my_print_defaults mysqld 2>/dev/null | grep -q '^--user='; then
			extra=(-- --user=mysql)
		fi
		port_open 3306 || start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd "${extra[@]}" ||
			die "could not start MariaDB (see /var/log/mysql)"
		state="started"
	fi
	wait_for "MariaDB (127.0.0.1:3306)" mariadb_ready

	# Herald's default DSN is root@tcp(127.0.0.1:3306)/ with no password.
	if ! mariadb_tcp_root >/dev/null 2>&1; then
		mariadb -uroot <<-'SQL'
			CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
			GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
			CREATE USER IF NOT EXISTS 'root'@'::1' IDENTIFIED BY '';
			GRANT ALL PRIVILEGES ON *.* TO 'root'@'::1' WITH GRANT OPTION;
			FLUSH PRIVILEGES;
		SQL
		if ! mariadb_tcp_root >/dev/null 2>&1; then
			# Without skip-name-resolve 127.0.0.1 is seen as 'localhost'.
			mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;"
		fi
		mariadb_tcp_root >/dev/null 2>&1 || die "MariaDB root cannot log in over TCP without a password"
		state="$state, root over TCP enabled"
	fi
	log "mariadb:   up on 127.0.0.1:3306 ($state)"
}

# ---------------------------------------------------------------------------------------
# Redis

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

redis_up() {
	local state="running"
	if ! port_open 6379; then
		if ! command -v redis-server >/dev/null; then
			apt_install redis-server
		fi
		mkdir -p /var/lib/redis /var/log/redis
		port_open 6379 || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null ||
			die "could not start Redis (see /var/log/redis/ci.log)"
		state="started"
	fi
	wait_for "Redis (127.0.0.1:6379)" redis_ping
	log "redis:     up on 127.0.0.1:6379 ($state)"
}

# ---------------------------------------------------------------------------------------
# RabbitMQ

rabbit_ping() { port_open 5672 && timeout 20 rabbitmq-diagnostics -q ping; }

rabbitmq_up() {
	local state="running"
	if ! port_open 5672; then
		if [ ! -x /usr/sbin/rabbitmq-server ]; then
			apt_install rabbitmq-server
			# Name the node after localhost and keep it on loopback, as on the dev machines,
			# so that start-up does not depend on the host name resolving.
			if ! grep -qs '^NODENAME=' /etc/rabbitmq/rabbitmq-env.conf; then
				mkdir -p /etc/rabbitmq
				cat >>/etc/rabbitmq/rabbitmq-env.conf <<-'EOF'
					NODENAME=rabbit@localhost
					ERL_EPMD_ADDRESS=127.0.0.1
					export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"
				EOF
			fi
		fi
		mkdir -p /var/lib/rabbitmq /var/log/rabbitmq
		chown rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
		if timeout 20 rabbitmqctl -q status >/dev/null 2>&1; then
			# The Erlang node runs but the broker app was stopped (rabbitmqctl stop_app).
			rabbitmqctl -q start_app >/dev/null || die "could not start the RabbitMQ app (see /var/log/rabbitmq)"
		else
			rabbitmq-server -detached >/dev/null 2>&1 || die "could not start RabbitMQ (see /var/log/rabbitmq)"
		fi
		state="started"
	fi
	wait_for "RabbitMQ (127.0.0.1:5672)" rabbit_ping
	log "rabbitmq:  up on 127.0.0.1:5672 ($state)"
}

# ---------------------------------------------------------------------------------------
# Mosquitto

mosquitto_up() {
	local state="running"
	if ! port_open 1883; then
		if [ ! -x /usr/sbin/mosquitto ]; then
			apt_install mosquitto
		fi
		mkdir -p /run/mosquitto /var/lib/mosquitto /var/log/mosquitto
		chown mosquitto:mosquitto /run/mosquitto /var/lib/mosquitto /var/log/mosquitto
		port_open 1883 || mosquitto -d -c /etc/mosquitto/mosquitto.conf ||
			die "could not start Mosquitto (see /var/log/mosquitto)"
		state="started"
	fi
	wait_for "Mosquitto (127.0.0.1:1883)" port_open 1883
	log "mosquitto: up on 127.0.0.1:1883 ($state)"
}

mariadb_up
redis_up
rabbitmq_up
mosquitto_up
