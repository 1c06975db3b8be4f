"""`make run` as a new admin meets it: the first run prints the admin login
once, every daemon listens on its dev port, the printed password works, a
second run reuses the data, and Ctrl-C stops everything.

It uses the fixed dev ports of README (2525, 2587, 2465, 2110, 2995,
8443), so it is skipped when one of them is already taken (a developer's
own `make run`)."""
import os
import poplib
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import BUILD, REPO, wait_port

DEV_PORTS = (2525, 2587, 2465, 2110, 2995, 8443)


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the daemons bind
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def start(var):
    env = dict(os.environ, MAILROOM_VAR=str(var))
    p = subprocess.Popen(["bash", str(REPO / "tests" / "devrun.sh"), str(BUILD)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C" in line:
            break
    for port in DEV_PORTS:
        wait_port(port, timeout=20, proc=p)
    return p, "".join(lines)


def stop(p):
    os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    out, _ = p.communicate(timeout=30)
    return p.returncode, out


@pytest.mark.skipif(not all(port_free(p) for p in DEV_PORTS), reason="a dev port is in use")
def test_make_run_first_and_second_time(tmp_path):
    var = tmp_path / "var"
    p, banner = start(var)
    try:
        assert "admin login admin@example.test" in banner
        password = banner.split("password: ")[1].split()[0]
        assert len(password) >= 16
        # the printed password logs in (POP3 over TLS, as a mail client would)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        pop = poplib.POP3_SSL("127.0.0.1", 2995, context=ctx, timeout=10)
        pop.user("admin@example.test")
        assert pop.pass_(password).startswith(b"+OK")
        pop.quit()
        # the web admin answers over HTTPS
        with socket.create_connection(("127.0.0.1", 8443), timeout=10) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                assert s.recv(64).startswith(b"HTTP/1.")
    finally:
        rc, out = stop(p)
    assert rc == 0, out
    assert "Mailroom stopped." in out
    for port in DEV_PORTS:
        assert port_free(port), f"port {port} still taken after Ctrl-C"

    # second run: same data, no new password printed
    p, banner = start(var)
    try:
        assert "as printed on the first" in banner
        assert "shown once" not in banner
        pop = poplib.POP3_SSL("127.0.0.1", 2995, context=ctx, timeout=10)
        pop.user("admin@example.test")
        assert pop.pass_(password).startswith(b"+OK")
        pop.quit()
    finally:
        rc, _ = stop(p)
    assert rc == 0
