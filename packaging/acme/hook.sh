#!/bin/sh
# acme-hook - uacme's challenge hook for Mailroom (installed as
# /usr/lib/mailroom/acme-hook; see uacme(1), -h).
#
#   acme-hook METHOD TYPE IDENT TOKEN KEY_AUTH
#
# Accepts only http-01: on "begin" writes KEY_AUTH to
# $MAILROOM_ACME_CHALLENGE_DIR/TOKEN, which mailroom-webadmin serves at
# http://IDENT/.well-known/acme-challenge/TOKEN; on "done" or "failed"
# removes it. Declines every other type (exit 1) so uacme tries http-01.
# SECURITY: TOKEN comes from the CA; it is used as a file name only after
# checking it is base64url (RFC 8555 section 8.3), so no "../" can pass.
set -eu

method=${1:-}
type=${2:-}
token=${4:-}
auth=${5:-}
dir=${MAILROOM_ACME_CHALLENGE_DIR:-/var/lib/mailroom/acme/challenge}

[ "$type" = http-01 ] || exit 1
case "$token" in
'' | *[!A-Za-z0-9_-]*)
	echo "acme-hook: refusing token '$token'" >&2
	exit 1
	;;
esac

case "$method" in
begin)
	mkdir -p "$dir"
	umask 022
	printf '%s' "$auth" >"$dir/.$token.tmp"
	mv -f "$dir/.$token.tmp" "$dir/$token"
	;;
done | failed)
	rm -f "$dir/$token"
	;;
*)
	exit 1
	;;
esac
exit 0
