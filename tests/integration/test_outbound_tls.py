"""Outbound TLS: opportunistic STARTTLS to an MX (and the plaintext
injection attack against it), the ISP smarthost with TLS and AUTH, and
SIGKILL during delivery.

The fake MX here is a small raw SMTP server in Python (it must misbehave on
purpose); the smarthost is outbound_util's aiosmtpd with a certificate made
by openssl for the test and an authenticator that checks the password.
"""
import signal
import socket
import ssl
import threading
import time

import pytest

# Smarthost and make_cert are imported from here by other tests too.
from outbound_util import Smarthost, make_cert, send_through_smarthost, start_smarthost  # noqa: F401
from smtp_util import db, wait_for  # noqa: F401
from test_outbound import ALICE, MX2, out, pop3_messages, queue_rows, submit  # noqa: F401


class InjectingMX(threading.Thread):
    """An MX that answers STARTTLS with its 220 *and* a plaintext 550 in the
    same packet (what a man in the middle injects), then speaks TLS."""

    def __init__(self, ip, port, cert, key, broken_tls=False):
        super().__init__(daemon=True)
        self.broken_tls = broken_tls
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((ip, port))
        self.srv.listen()
        self.messages, self.tls_used, self.transcript = [], False, []
        self.start()

    def run(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            try:
                self.session(conn)
            except (OSError, ssl.SSLError) as e:
                self.transcript.append(f"error {e}")

    def session(self, sock):
        sock.settimeout(10)
        f = sock.makefile("rb")
        sock.sendall(b"220 mx1.remote.test ESMTP\r\n")
        tls = False
        while True:
            line = f.readline()
            if not line:
                return
            self.transcript.append(line)
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO"):
                ext = b"250-mx1.remote.test\r\n250-PIPELINING\r\n"
                sock.sendall(ext + (b"250 8BITMIME\r\n" if tls else b"250 STARTTLS\r\n"))
            elif cmd == b"STARTTLS" and self.broken_tls:
                sock.sendall(b"220 2.0.0 go ahead\r\n")
                sock.recv(4096)  # the ClientHello...
                sock.sendall(b"this is not TLS at all\r\n" * 4)  # ...answered with junk
                return
            elif cmd == b"STARTTLS":
                sock.sendall(b"220 2.0.0 go ahead\r\n550 5.7.1 injected rejection\r\n")
                sock = self.ctx.wrap_socket(sock, server_side=True)
                f = sock.makefile("rb")
                tls = self.tls_used = True
            elif cmd.startswith(b"MAIL") or cmd.startswith(b"RCPT") or cmd.startswith(b"RSET"):
                sock.sendall(b"250 2.0.0 ok\r\n")
            elif cmd == b"DATA":
                sock.sendall(b"354 go\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    chunk = f.readline()
                    if not chunk:
                        return
                    data += chunk
                self.messages.append((tls, data))
                sock.sendall(b"250 2.0.0 queued\r\n")
            elif cmd == b"QUIT":
                sock.sendall(b"221 bye\r\n")
                return
            else:
                sock.sendall(b"502 5.5.1 what\r\n")

    def close(self):
        self.srv.close()


def test_starttls_injection_is_ignored(out, tmp_path):
    cert, key = make_cert(tmp_path, "mx1.remote.test")
    out.start_dns(*MX2[:1], MX2[2])
    mx = InjectingMX("127.0.0.2", out.ports["relay"], cert, key)
    out.start("queued")
    submit(out, ["friend@remote.test"], subject="over tls")
    assert wait_for(lambda: len(mx.messages) == 1, 15), out.log("queued") + str(mx.transcript)
    tls, data = mx.messages[0]
    assert tls and b"Subject: over tls" in data
    log = out.log("queued")
    assert "event=starttls-injection" in log
    assert "event=tls host=mx1.remote.test verified=no" in log  # self-signed: logged, not required
    assert "tls=unverified" in log
    assert wait_for(lambda: queue_rows(out) == [], 5)
    mx.close()


def test_broken_tls_mx_gets_mail_in_plain_text(out, tmp_path):
    # Opportunistic TLS must not make mail undeliverable: when the MX's
    # handshake fails, the same host is tried once more without STARTTLS.
    cert, key = make_cert(tmp_path, "mx1.remote.test")
    out.start_dns(*MX2[:1], MX2[2])
    mx = InjectingMX("127.0.0.2", out.ports["relay"], cert, key, broken_tls=True)
    out.start("queued")
    submit(out, ["friend@remote.test"], subject="plain after all")
    assert wait_for(lambda: len(mx.messages) == 1, 15), out.log("queued") + str(mx.transcript)
    tls, data = mx.messages[0]
    assert not tls and b"Subject: plain after all" in data
    assert "event=tls-fallback host=mx1.remote.test" in out.log("queued")
    assert mx.transcript.count(b"STARTTLS\r\n") == 1  # the retry did not ask again
    mx.close()


@pytest.fixture
def smarthost(out, tmp_path):
    sh = start_smarthost(out, tmp_path, "127.0.0.4", out.ports["relay"], "office@isp.test",
                         "isp secret")
    yield out, sh
    sh.stop()


def test_smarthost_with_tls_and_auth(smarthost):
    m, sh = smarthost
    send_through_smarthost(m, sh, "via the isp")
    for authed, mail_from, _, content in sh.messages:
        assert authed and mail_from == ALICE and b"Subject: via the isp" in content
    assert all(ok for _, _, ok in sh.logins) and sh.logins[0][1] == b"office@isp.test"
    log = m.log("queued")
    assert "event=tls host=smarthost.test verified=yes" in log
    assert "event=smarthost-auth" in log
    assert "isp secret" not in log and "aXNwIHNlY3JldA" not in log  # never the password


def test_smarthost_with_auth_login_only(smarthost):
    m, sh = smarthost
    sh.stop()
    login_only = Smarthost("127.0.0.4", m.ports["relay"], m.cert, m.key,
                           "office@isp.test", "isp secret", exclude=["PLAIN"])
    try:
        m.start("queued")
        submit(m, ["friend@remote.test"], subject="login mechanism")
        assert wait_for(lambda: len(login_only.messages) == 1, 15), m.log("queued")
        assert login_only.logins == [("LOGIN", b"office@isp.test", True)]
        assert login_only.messages[0][0]  # authenticated
    finally:
        login_only.stop()
        sh.stop = lambda: None  # the fixture's smarthost is already stopped


def test_smarthost_wrong_password_defers(smarthost):
    m, sh = smarthost
    m.extra["smtp"]["smarthost_password"] = "Wr0ng-pw-93x"
    m.write_config()
    m.start("queued")
    submit(m, ["friend@remote.test"])
    assert wait_for(lambda: queue_rows(m) and queue_rows(m)[0][2] == 1, 15), m.log("queued")
    assert "535" in queue_rows(m)[0][4]
    assert sh.messages == []
    assert "event=smarthost-auth-failed" in m.log("queued")
    assert "Wr0ng-pw-93x" not in m.log("queued")


def test_smarthost_certificate_must_verify(smarthost):
    m, sh = smarthost
    del m.extra["queue"]  # no CA for the self-signed certificate
    m.write_config()
    m.start("queued")
    submit(m, ["friend@remote.test"])
    assert wait_for(lambda: queue_rows(m) and queue_rows(m)[0][2] == 1, 15), m.log("queued")
    assert "certificate not verified" in queue_rows(m)[0][4]
    assert sh.messages == [] and sh.logins == []  # the password never left


def message_ids(sink):
    ids = []
    for raw in sink.messages():
        for line in raw.split(b"\n"):
            if line.lower().startswith(b"message-id:"):
                ids.append(line.split(b":", 1)[1].strip())
    return ids


def test_sigkill_during_delivery_loses_nothing(out):
    n = 8
    out.start_dns(*MX2[:1], MX2[2])
    sink = out.sink("127.0.0.2", "-w", "1")  # one second before each DATA reply
    for i in range(n):
        submit(out, ["friend@remote.test"], subject=f"msg {i}")
    out.start("queued")
    assert wait_for(lambda: len(message_ids(sink)) >= 2, 20), out.log("queued")
    out.kill("queued")
    delivered_before = len(set(message_ids(sink)))
    assert delivered_before < n and len(queue_rows(out)) > 0
    out.start("queued")
    assert wait_for(lambda: len(set(message_ids(sink))) == n, 40), out.log("queued")
    assert wait_for(lambda: queue_rows(out) == [], 10)
    assert "event=bounced" not in out.log("queued")


def test_sigterm_during_delivery_exits_cleanly(out):
    n = 4
    out.start_dns(*MX2[:1], MX2[2])
    sink = out.sink("127.0.0.2", "-w", "1")
    for i in range(n):
        submit(out, ["friend@remote.test"], subject=f"term {i}")
    out.start("queued")
    assert wait_for(lambda: "event=connect" in out.log("queued"), 15)
    time.sleep(0.5)  # mid-transaction: the sink holds each DATA reply 1 s
    assert out.stop("queued", signal.SIGTERM, timeout=5) == 0
    assert "event=shutdown" in out.log("queued")
    out.start("queued")
    assert wait_for(lambda: len(set(message_ids(sink))) == n, 30), out.log("queued")
    assert wait_for(lambda: queue_rows(out) == [], 10)


def test_smarthost_from_preseeded_settings(smarthost):
    """A reseller's preseed stores the smarthost in the settings table
    (mailroomctl preseed apply writes smarthost.host/user/password); with
    no [smtp] smarthost in the config file, queued uses the stored one."""
    m, sh = smarthost
    port = m.ports["relay"]
    m.extra["smtp"] = {}  # nothing in the config file
    m.write_config()
    # Test setup only: the same three rows `mailroomctl preseed apply` writes
    # (it skips a box that already has accounts, as this one does).
    import sqlite3
    with sqlite3.connect(m.db_path, timeout=10) as c:
        c.executemany("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
                      [("smarthost.host", f"smarthost.test:{port}"),
                       ("smarthost.user", "office@isp.test"),
                       ("smarthost.password", "isp secret")])
    m.start("queued")
    submit(m, ["friend@remote.test"], subject="preseeded isp")
    assert wait_for(lambda: len(sh.messages) == 1, 15), m.log("queued")
    assert sh.messages[0][0] and b"Subject: preseeded isp" in sh.messages[0][3]
    log = m.log("queued")
    assert f"event=smarthost-from-settings smarthost=smarthost.test:{port}" in log
    assert "isp secret" not in log
