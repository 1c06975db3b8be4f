"""What every daemon owes its admin: it starts from a config, answers on
its ports, stops cleanly on SIGTERM, refuses a bad config with file, line
and key, and exits 1 with one clear line when a port is taken."""
import signal
import socket
import ssl
import subprocess

import pytest

from conftest import BUILD, DAEMONS

GREETING = {"smtp": b"220 ", "submission": b"220 ", "pop3": b"+OK"}
TLS_PORTS = {"smtps", "pop3s", "admin"}


def read_greeting(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        return s.recv(512)


def tls_handshake(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as s:
            return s.version()


@pytest.mark.parametrize("name", list(DAEMONS))
def test_daemon_serves_and_stops_on_sigterm(mailroom, name):
    m = mailroom
    m.start(name)
    for key in DAEMONS[name][1]:
        port = m.ports[key]
        if key in GREETING:
            assert read_greeting(port).startswith(GREETING[key])
        if key in TLS_PORTS:
            assert tls_handshake(port) in ("TLSv1.2", "TLSv1.3")
    assert m.stop(name, signal.SIGTERM) == 0


@pytest.mark.parametrize("name", list(DAEMONS))
def test_daemon_refuses_bad_config(mailroom, tmp_path, name):
    bad = tmp_path / "bad.conf"
    bad.write_text(mailroom.cfg_path.read_text().replace("[pop3]", "[pop3]\nlisen = 1"))
    r = subprocess.run([str(BUILD / DAEMONS[name][0]), "-c", str(bad)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "unknown key 'lisen' in [pop3]" in r.stderr
    assert f"{bad}:" in r.stderr


@pytest.mark.parametrize("name", [n for n in DAEMONS if DAEMONS[n][1]])
def test_daemon_exits_when_port_taken(mailroom, name):
    key = DAEMONS[name][1][0]
    port = mailroom.ports[key]
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        r = subprocess.run([str(BUILD / DAEMONS[name][0]), "-c", str(mailroom.cfg_path)],
                           capture_output=True, text=True, timeout=20)
    finally:
        blocker.close()
    assert r.returncode == 1
    lines = [l for l in r.stderr.splitlines() if f"127.0.0.1:{port}" in l]
    assert lines and "in use" in lines[0].lower(), r.stderr


@pytest.mark.parametrize("name", list(DAEMONS))
def test_daemon_help(name):
    r = subprocess.run([str(BUILD / DAEMONS[name][0]), "-h"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0
    assert "-c" in (r.stdout + r.stderr)
