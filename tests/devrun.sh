#!/usr/bin/env bash
# devrun.sh - `make run`: the whole appliance on the dev ports, in the foreground.
#
# First run: writes ./var/mailroom.conf (127.0.0.1, dev ports), initialises
# ./var/ (database, self-signed certificate), adds the domain example.test
# and a first admin whose password is printed once. Later runs reuse ./var/.
# The three daemons log to this terminal, interleaved (each line names its
# daemon); Ctrl-C stops all three.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
var=${MAILROOM_VAR:-$PWD/var} # MAILROOM_VAR: another data folder (tests)
conf=$var/mailroom.conf
ctl() { "$build/mailroomctl" -c "$conf" "$@"; }

domain=${MAILROOM_DEV_DOMAIN:-example.test}
admin=admin@$domain

mkdir -p "$var"
if [ ! -f "$conf" ]; then
	cat >"$conf" <<CONF
# Mailroom development config written by 'make run'. Edit freely; it is kept.
[server]
hostname = localhost
data_dir = $var/data
log_level = info

[smtp]
listen = 127.0.0.1:2525
submission_listen = 127.0.0.1:2587
smtps_listen = 127.0.0.1:2465
relay_port = 25

[pop3]
listen = 127.0.0.1:2110
pop3s_listen = 127.0.0.1:2995

[admin]
listen = 127.0.0.1:8443
CONF
fi

ctl init >/dev/null
ctl domain list | grep -q "^$domain	" || ctl domain add "$domain" >/dev/null
if ! ctl user list | grep -q "	admin	"; then
	password=$(ctl user add "$admin" --role admin --random | sed -n 's/^password: //p')
	login_note="password: $password   (shown once; change it in the panel)"
else
	login_note="password: as printed on the first 'make run' (reset: $build/mailroomctl -c var/mailroom.conf user passwd $admin --random)"
fi

cat <<INFO

Mailroom is starting (data in ./var/, config ./var/mailroom.conf):
  web admin   https://127.0.0.1:8443/   (self-signed certificate)
  admin login $admin
              $login_note
  SMTP        127.0.0.1:2525 (MX), 2587 (submission, STARTTLS), 2465 (TLS)
  POP3        127.0.0.1:2110 (STLS), 2995 (TLS)
Press Ctrl-C to stop.

INFO

pids=()
stop() {
	trap - INT TERM
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait
	echo "Mailroom stopped."
	exit 0
}
trap stop INT TERM
for d in smtpd pop3d webadmin queued; do
	"$build/mailroom-$d" -c "$conf" &
	pids+=($!)
done
# If one daemon exits (a port taken, a config error), stop the others too.
wait -n || true
echo "a daemon exited; stopping the others" >&2
stop
