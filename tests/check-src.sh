#!/bin/sh
# check-src.sh - refuse unsafe C calls and SQL built from strings.
# Run by `make check-src` (and `make test`). Tests and fuzzers are exempt
# from nothing: they are C in this tree too.
set -eu
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.c' -o -name '*.h')
banned='\b(system|popen|sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|strtok)[[:space:]]*\('
if grep -nE "$banned" $files; then
	echo "check-src: banned call above (use snprintf, strtol, memcpy with lengths)" >&2
	status=1
fi
# SQL text may only live in store/ and must never pass through a formatter.
if grep -nE '(printf|snprintf|buf_printf)[[:space:]]*\([^;]*"[[:space:]]*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP)[[:space:]]' $files; then
	echo "check-src: SQL built with string formatting above" >&2
	status=1
fi
if grep -lE 'sqlite3_(prepare|exec)' $files | grep -v '^store/' | grep -v '^tests/'; then
	echo "check-src: SQL outside store/ above" >&2
	status=1
fi
[ $status -eq 0 ] && echo "check-src: ok"
exit $status
