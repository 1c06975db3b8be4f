#!/bin/sh
# run.sh BUILD - spot checks of the daemons under valgrind memcheck.
# Makes a folder of wrappers (mailroom-smtpd etc. exec valgrind on the real
# binary; mailroomctl is the real one) and runs tests/valgrind/ against it
# through the usual harness. Any memcheck error or definite leak fails.
set -eu
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
wrap=$(mktemp -d /tmp/mailroom-vg.XXXXXX)
logs="$wrap/logs"
mkdir -p "$logs"
ln -s "$build/mailroomctl" "$wrap/mailroomctl"
for d in mailroom-smtpd mailroom-pop3d mailroom-webadmin mailroom-queued; do
	cat > "$wrap/$d" <<EOW
#!/bin/sh
exec valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
  --show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=30 \
  --log-file=$logs/$d.%p.log "$build/$d" "\$@"
EOW
	chmod +x "$wrap/$d"
done
status=0
MAILROOM_BUILD="$wrap" MAILROOM_VG_LOGS="$logs" /usr/bin/python3 -m pytest -q \
	-c tests/prove/pytest.ini tests/valgrind || status=$?
if [ $status -ne 0 ]; then
	for f in "$logs"/*.log; do echo "== $f"; cat "$f"; done
fi
rm -rf "$wrap"
exit $status
