#!/bin/sh
# check-src.sh - refuse unsafe C calls and SQL built from strings.
# Run by `make check-src` (and `make test`). Tests and fuzzers are exempt
# from nothing: they are C in this tree too.
set -eu
cd "$(dirname "$0")/.."
status=0
# CHECK_SRC_FILES (a list of paths) checks those instead: the check's own test.
files=${CHECK_SRC_FILES:-$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.c' -o -name '*.h')}
banned='\b(system|popen|sprintf|vsprintf|strcpy|strcat|stpcpy|gets|atoi|atol|atoll|strtok|mktemp|tmpnam|tempnam)[[:space:]]*\('
if grep -nE "$banned" $files; then
	echo "check-src: banned call above (use snprintf, strtol, memcpy with lengths)" >&2
	status=1
fi
# SQL text may only live in store/ and must never pass through a formatter.
if grep -nE '(printf|snprintf|buf_printf)[[:space:]]*\([^;]*"[[:space:]]*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP)[[:space:]]' $files; then
	echo "check-src: SQL built with string formatting above" >&2
	status=1
fi
# SQLite's own formatters build SQL from strings too (%q is still string
# building); and a format conversion inside SQL text means it is meant for one.
if grep -nE 'sqlite3_(v?mprintf|snprintf|str_appendf)[[:space:]]*\(' $files; then
	echo "check-src: SQL built with sqlite3_mprintf/snprintf above (bind parameters instead)" >&2
	status=1
fi
# (PRAGMA takes no bind parameters: an integer conversion is allowed there only.)
if grep -nE '"[^"]*\b(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|PRAGMA)\b[^"]*%[-0-9.*]*[sqQz]' $files ||
   grep -nE '"[^"]*\b(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP)\b[^"]*%[-0-9.]*(l|ll|z|j)?[diux]' $files; then
	echo "check-src: a format conversion inside SQL text above (bind parameters instead)" >&2
	status=1
fi
# The daemons never run another program (OpenSMTPD CVE-2020-7247 was an
# address reaching a shell): no exec/spawn/dlopen outside the tests.
daemon_files=$(echo "$files" | tr ' ' '\n' | grep -v '^tests/' || true)
if [ -n "$daemon_files" ] && grep -nE '\b(exec[lv]p?e?|execve|fexecve|posix_spawnp?|dlopen)[[:space:]]*\(' $daemon_files; then
	echo "check-src: a program is run (exec/spawn/dlopen) above" >&2
	status=1
fi
# Format-string holes: %n anywhere in a format, or a non-literal format.
if grep -nE '"[^"]*%n[^"]*"' $files | grep -E 'printf'; then
	echo "check-src: %n in a format string above" >&2
	status=1
fi
if grep -nE '\b(printf|fprintf|snprintf|dprintf|log_(debug|info|warn|error))[[:space:]]*\(([^,()]+,)?[[:space:]]*[a-z_][a-z_0-9>.-]*[[:space:]]*\)' $files | grep -v '"'; then
	echo "check-src: a format string that is not a literal above" >&2
	status=1
fi
if grep -lE 'sqlite3_(prepare|exec)' $files | grep -v '^store/' | grep -v '^tests/'; then
	echo "check-src: SQL outside store/ above" >&2
	status=1
fi
[ $status -eq 0 ] && echo "check-src: ok"
exit $status
