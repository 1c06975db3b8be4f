"""A hostile remote MX against mailroom-queued (issue 8 item 3): a scripted
raw-socket server on 127.0.0.2 at relay_port sends malformed multi-line
replies (mixed codes, endless continuation, bare LF, NUL, no space after
the code, overlong lines, garbage codes, a close mid-reply) or pipelines
plaintext after its STARTTLS 220. Each time queued must stay up, never
count the message as delivered by a reply it could not parse, keep it
queued (or bounce it on a clear 5xx), and deliver it once a sane MX is back."""
import socket
import ssl
import subprocess
import threading
import time

import pytest

from smtp_util import db, start_smtpd, wait_for
from test_outbound import ALICE, MX2, submit
from test_outbound_tls import make_cert

EHLO_BAD = {
    "mixed-codes": b"250-mx1.remote.test\r\n550-no\r\n250 SIZE 1000\r\n",
    "endless-continuation": None,  # 250- lines forever
    "bare-lf": b"250-mx1.remote.test\n250-PIPELINING\n250 SIZE 100\n",
    "nul": b"250-mx1\0.remote.test\r\n250 \0SIZE\r\n",
    "no-space": b"250mx1.remote.test\r\n",
    "overlong": b"250-" + b"A" * 70000 + b"\r\n250 ok\r\n",
    "garbage-code": b"2x0 what\r\n",
    "four-digit": b"2500 ok\r\n",
    "short": b"25\r\n",
    "close-mid-reply": b"250-mx1.remote.test\r\n250-PIPE",
    "negative": b"-250 ok\r\n",
}
# Replies whose code is still a clear 250 (text with NUL, bare LF line ends,
# a mixed-code continuation ending in 250): a lenient client may go on.
LENIENT = {"nul", "bare-lf", "mixed-codes"}
DATA_BAD = {
    "data-ok-then-garbage": b"250 2.0.0 ok\r\n\0\0\0 junk\r\n",
    "data-multiline-mixed": b"250-queued\r\n451 4.0.0 but not really\r\n",
    "data-bare-lf": b"250 ok\n",
}


class HostileMX:
    def __init__(self, ip, port, ehlo=None, data_reply=None, starttls_inject=False, cert=None):
        self.srv = socket.create_server((ip, port))
        self.ehlo, self.data_reply = ehlo, data_reply
        self.inject, self.cert = starttls_inject, cert
        self.sessions, self.got_data = 0, 0
        self.stop = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.sessions += 1
            try:
                self.session(c)
            except (OSError, ssl.SSLError):
                pass
            finally:
                c.close()

    def session(self, c):
        c.settimeout(20)
        f = c.makefile("rb")
        c.sendall(b"220 mx1.remote.test ESMTP\r\n")
        tls = False
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line[:4].upper()
            if cmd == b"EHLO" and not tls:
                if self.ehlo is None and not self.inject:
                    for i in range(100000):
                        c.sendall(b"250-%d continuation\r\n" % i)
                        if self.stop:
                            return
                    return
                c.sendall(self.ehlo if self.ehlo else b"250-mx1\r\n250 STARTTLS\r\n")
                if self.ehlo and not self.ehlo.endswith((b"\r\n", b"\n")):
                    return  # close mid-reply
            elif cmd == b"EHLO":
                c.sendall(b"250 mx1\r\n")
            elif cmd == b"STAR" and self.inject:
                # plaintext pipelined after our own 220: must be ignored
                c.sendall(b"220 go ahead\r\n250 2.0.0 injected: message accepted\r\n")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*self.cert)
                c = ctx.wrap_socket(c, server_side=True)
                f = c.makefile("rb")
                tls = True
            elif cmd in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                c.sendall(b"250 ok\r\n")
            elif cmd == b"DATA":
                c.sendall(b"354 go\r\n")
                while f.readline() not in (b".\r\n", b""):
                    pass
                self.got_data += 1
                c.sendall(self.data_reply or b"250 2.0.0 ok\r\n")
            elif cmd == b"QUIT":
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"502 no\r\n")

    def close(self):
        self.stop = True
        try:
            self.srv.shutdown(socket.SHUT_RDWR)  # wakes the accept() in loop()
        except OSError:
            pass
        self.srv.close()


def queue_rows(m):
    with db(m) as c:
        return c.execute("SELECT recipient, attempts, last_error FROM queue").fetchall()


@pytest.fixture
def box(mailroom, monkeypatch):
    start_smtpd(mailroom, monkeypatch)
    mailroom.start_dns(*MX2[:1], MX2[2])
    return mailroom


def run_scenario(m, mx, tag):
    submit(m, ["friend@remote.test"], subject=tag)
    m.start("queued")
    assert wait_for(lambda: mx.sessions >= 1, 30), m.log("queued")
    # the attempt finishes one way or another: deferred (queued, attempts >= 1)
    assert wait_for(lambda: any(r[1] >= 1 for r in queue_rows(m)) or
                    "event=bounced" in m.log("queued") or "event=delivered" in m.log("queued"),
                    60), m.log("queued")[-3000:]
    assert m.procs["queued"].poll() is None, m.log("queued")[-3000:]
    return queue_rows(m)


@pytest.mark.parametrize("name", list(EHLO_BAD))
def test_malformed_ehlo_replies(box, name):
    mx = HostileMX("127.0.0.2", box.ports["relay"], ehlo=EHLO_BAD[name])
    try:
        rows = run_scenario(box, mx, f"ehlo {name}")
        log = box.log("queued")
        if name in LENIENT:
            return  # a clear 250 with odd text: delivering is fine, staying up is the point
        assert "event=delivered" not in log, log[-2000:]
        assert rows and mx.got_data == 0 or "event=bounced" in log, (rows, log[-2000:])
    finally:
        mx.close()
    # a sane MX now: the message goes out after a flush
    sink = HostileMX("127.0.0.2", box.ports["relay"], ehlo=b"250 mx1.remote.test\r\n")
    try:
        if queue_rows(box):
            box.ctl("queue", "flush")
            assert wait_for(lambda: queue_rows(box) == [], 60), box.log("queued")[-3000:]
            assert sink.got_data == 1
    finally:
        sink.close()


@pytest.mark.parametrize("name", list(DATA_BAD))
def test_malformed_data_replies(box, name):
    mx = HostileMX("127.0.0.2", box.ports["relay"], ehlo=b"250 mx1.remote.test\r\n",
                   data_reply=DATA_BAD[name])
    try:
        run_scenario(box, mx, f"data {name}")
        assert mx.got_data >= 1
        assert box.procs["queued"].poll() is None
    finally:
        mx.close()


def test_plaintext_pipelined_after_starttls_220(box, tmp_path):
    cert = make_cert(tmp_path, "mx1.remote.test")
    mx = HostileMX("127.0.0.2", box.ports["relay"], starttls_inject=True, cert=cert)
    try:
        submit(box, ["friend@remote.test"], subject="inject")
        box.start("queued")
        assert wait_for(lambda: mx.got_data == 1 and queue_rows(box) == [], 30), \
            box.log("queued")[-3000:]
        log = box.log("queued")
        # delivered over TLS after a real DATA, never on the injected "250"
        assert "event=delivered" in log
        assert "event=starttls-injection" in log
    finally:
        mx.close()
