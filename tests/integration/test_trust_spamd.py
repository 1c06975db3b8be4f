"""mailroom-smtpd asking SpamAssassin's spamd (trust.spamd, SPAMC/1.5) about
every message on the MX port: the real spamd of Debian's spamd package
(SpamAssassin 4, its shipped rules, local tests only, no network) started
here on a loopback port, real SMTP clients (smtplib), the stored messages
read back through the real mailroom-pop3d, the trace rows from the store.

- a clean message carries spamd's score (the one spamd's own log reports)
  in X-Spam-Score / X-Spam-Status, with SPAMD and spamd's rule names in
  tests=, and the trace row's details say spamd=SCORE/REQUIRED;
- a GTUBE message is spam: X-Spam-Flag, the subject tag, outcome tagged;
- spamd stopped: the message is still accepted, on our own checks, with
  spamd=unavailable in the trace and one event=spamd-unavailable line;
- a fake spamd (a Python socket) that answers garbage, stalls, or closes:
  accepted, no longer than the timeout;
- a fake spamd that checks our request: "SYMBOLS SPAMC/1.5", an exact
  Content-length, our Received field in front, at most 512 KiB of a big
  message cut at a line end (the message itself is stored whole);
- authenticated mail on submission is never sent to spamd; the panel's
  Mail checks page sets and checks the address.
"""
import os
import re
import shutil
import smtplib
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import free_port, stop_process
from smtp_util import USERS, start_smtpd
from test_smtp_trust import pop_all, set_settings, txt

SPAMD = shutil.which("spamd") or "/usr/sbin/spamd"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

pytestmark = pytest.mark.skipif(not os.path.exists(SPAMD),
                                reason="Debian package spamd not installed (make deps)")


def message(subject="Lunch", body="Hello Bob,\r\n\r\nlunch at noon tomorrow?\r\n\r\nAlice\r\n",
            frm="Alice <alice@good.test>"):
    return (f"From: {frm}\r\nTo: Bob <bob@example.test>\r\nSubject: {subject}\r\n"
            "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
            "Message-ID: <20261128100000.4711@good.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
            "\r\n" + body).encode()


def head(msg):
    return msg.split(b"\r\n\r\n", 1)[0].decode()


def unfold(h):
    """Folded lines joined; a fold right after a comma (a list) leaves no space."""
    return re.sub(r"\r\n[ \t]+", " ", re.sub(r",\r\n[ \t]+", ",", h))


def field(h, name):
    m = re.search(r"^" + re.escape(name) + r": (.*?)\r?$", unfold(h), re.M | re.I)
    return m.group(1) if m else None


def trace_rows(m, n, timeout=8.0):
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(m.db_path, timeout=10) as c:
            c.row_factory = sqlite3.Row
            got = [dict(r) for r in c.execute(
                "SELECT outcome, reply, spam_score, details FROM message_trace ORDER BY id")]
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def send(m, msg, sender="alice@good.test", rcpt="bob@example.test"):
    """One message on the MX port; (code, text, seconds from DATA's end to the reply)."""
    with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=60) as s:
        s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.ehlo("mx.good.test")
        assert s.mail(sender)[0] == 250
        assert s.rcpt(rcpt)[0] == 250
        code, _ = s.docmd("DATA")
        assert code == 354
        data = msg.replace(b"\r\n.", b"\r\n..")
        s.send(data + (b"" if data.endswith(b"\r\n") else b"\r\n"))
        t0 = time.monotonic()
        s.send(b".\r\n")
        code, text = s.getreply()
        return code, text.decode(), time.monotonic() - t0


# ---- the real spamd ---------------------------------------------------------------

class Spamd:
    """Debian's spamd on a loopback port: its own site config (the .pre files
    that load the plugins, no Bayes, no network tests), -L (local tests
    only), -x (no per-user config), logging to a file we read."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailroom-spamd-")
        os.chmod(self.dir, 0o755)
        self.site = os.path.join(self.dir, "site")
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.site)
        os.makedirs(self.home)
        os.chmod(self.home, 0o777)
        for f in os.listdir("/etc/spamassassin"):
            if f.endswith(".pre"):
                shutil.copy(os.path.join("/etc/spamassassin", f), self.site)
        with open(os.path.join(self.site, "local.cf"), "w") as f:
            f.write("use_bayes 0\nbayes_auto_learn 0\nskip_rbl_checks 1\n"
                    "dns_available no\nrequired_score 5.0\n")
        self.logpath = os.path.join(self.dir, "spamd.log")
        self.proc = None
        self.port = None

    def start(self):
        self.port = free_port()
        cmd = [SPAMD, "--listen", f"127.0.0.1:{self.port}", "-x", "-L",
               "--siteconfigpath", self.site, "--helper-home-dir=" + self.home,
               "-s", "stderr", "-m", "2", "--min-children=1", "--max-spare=2"]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("spamd exited:\n" + self.log())
            try:
                if b"PONG" in ask_spamd(self.port, "PING", b"", timeout=5):
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("spamd did not answer PING:\n" + self.log())

    def stop(self):
        stop_process(self.proc, 15)
        self.proc = None

    def log(self):
        try:
            return open(self.logpath, errors="replace").read()
        except OSError:
            return ""

    def results(self):
        """spamd's own "result:" lines: (flag, score, tests), oldest first."""
        return [(m.group(1), float(m.group(2)), m.group(3)) for m in re.finditer(
            r"spamd: result: (.) +(-?\d+) - (\S*) scantime", self.log())]

    def scores(self):
        """spamd's own "clean message (S/R)" / "identified spam (S/R)" lines."""
        return [(float(a), float(b)) for a, b in re.findall(
            r"spamd: (?:clean message|identified spam) \((-?[\d.]+)/(-?[\d.]+)\)", self.log())]

    def wait_results(self, n, timeout=10.0):
        """spamd's result lines once there are more than n (a child may log
        just after it answered)."""
        deadline = time.monotonic() + timeout
        while len(self.results()) <= n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.results()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def exchange(port, request, timeout=30):
    """Send request to a loopback port, close our side, read to the end."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                return out
            out += d


def ask_spamd(port, cmd, msg, timeout=30):
    """Our own independent SPAMC client for the test's checks."""
    req = f"{cmd} SPAMC/1.5\r\n".encode()
    if cmd != "PING":
        req += f"Content-length: {len(msg)}\r\n".encode()
    return exchange(port, req + b"\r\n" + msg, timeout)


@pytest.fixture(scope="module")
def spamd():
    d = Spamd().start()
    yield d
    d.close()


def dns():
    return [txt("good.test", "v=spf1 ip4:127.0.0.1 -all")]


def start(m, **settings):
    m.start_dns(*dns())
    set_settings(m, **settings)
    start_smtpd(m)
    m.start("pop3d")
    return m


# ---- with the real spamd -------------------------------------------------------------

def test_clean_message_carries_spamds_score(mailroom, spamd):
    start(mailroom, spamd=f"127.0.0.1:{spamd.port}", spam_subject_tag="[SPAM]")
    n_before = len(spamd.results())
    code, text, _ = send(mailroom, message())
    assert code == 250, text
    got = pop_all(mailroom)
    assert len(got) == 1
    h = head(got[0])
    # what spamd itself logged for this message
    res = spamd.wait_results(n_before)[n_before:]
    assert len(res) == 1, spamd.log()[-2000:]
    flag, _, sa_tests = res[0]
    sa_score, sa_required = spamd.scores()[-1]
    assert flag == "." and sa_score < 5.0
    status = field(h, "X-Spam-Status")
    assert status.startswith(f"No, score={sa_score:.1f} required=5.0 tests="), status
    assert field(h, "X-Spam-Score") == f"{sa_score:.1f}"
    tests = status.split("tests=", 1)[1].replace(" ", "").split(",")
    assert "SPAMD" in tests and "SPF_PASS" in tests
    for t in sa_tests.split(","):  # spamd's rule names follow ours
        assert t in tests, (t, status)
    # spamd saw the client through the Received field we sent in front
    assert "NO_RELAYS" not in sa_tests and "NO_RECEIVED" not in sa_tests
    assert "X-Spam-Flag" not in h and field(h, "Subject") == "Lunch"
    row = trace_rows(mailroom, 1)[0]
    assert row["outcome"] == "accepted"
    assert f"spamd={sa_score:.1f}/{sa_required:.1f}" in row["details"], row
    assert "SPAMD" in row["details"]
    assert row["spam_score"] == round(sa_score * 10)
    log = mailroom.log("smtpd")
    assert "spamd-unavailable" not in log
    assert re.search(r"spamd=%s/5\.0 spamd_ms=\d+" % re.escape(f"{sa_score:.1f}"), log)


def test_gtube_is_tagged_spam(mailroom, spamd):
    start(mailroom, spamd=f"127.0.0.1:{spamd.port}", spam_subject_tag="[SPAM]")
    n_before = len(spamd.results())
    body = f"This is the GTUBE test.\r\n\r\n{GTUBE}\r\n"
    code, text, _ = send(mailroom, message("Cheap offer", body))
    assert code == 250, text
    got = pop_all(mailroom)
    assert len(got) == 1
    h = head(got[0])
    assert spamd.wait_results(n_before)[-1][0] == "Y"
    sa_score, _ = spamd.scores()[-1]
    assert sa_score >= 900  # GTUBE is 1000 points, other rules move it a little
    assert field(h, "X-Spam-Flag") == "YES"
    assert field(h, "Subject") == "[SPAM] Cheap offer"
    status = field(h, "X-Spam-Status")
    assert status.startswith(f"Yes, score={sa_score:.1f} required=5.0 "), status
    assert "SPAMD" in status and "GTUBE" in status
    # folded, no line past 78 columns + CRLF
    assert all(len(line) <= 80 for line in h.split("\r\n")
               if line.startswith(("X-Spam-Status", "\t"))), h
    assert GTUBE.encode() in got[0]  # the message itself is untouched
    row = trace_rows(mailroom, 1)[0]
    assert row["outcome"] == "tagged" and row["spam_score"] == round(sa_score * 10)
    assert f"spamd={sa_score:.1f}/5.0" in row["details"]


def test_spamd_stopped_mail_still_accepted(mailroom):
    d = Spamd().start()
    try:
        start(mailroom, spamd=f"127.0.0.1:{d.port}")
        assert send(mailroom, message("first"))[0] == 250
        d.stop()
        code, text, secs = send(mailroom, message("second"))
    finally:
        d.close()
    assert code == 250, text
    assert secs < 3, secs  # refused connection: no waiting for the timeout
    got = pop_all(mailroom)
    assert [field(head(g), "Subject") for g in got] == ["first", "second"]
    s1, s2 = field(head(got[0]), "X-Spam-Status"), field(head(got[1]), "X-Spam-Status")
    assert "SPAMD" in s1.split("tests=")[1].split(",")
    assert "SPAMD_UNAVAILABLE" in s2 and "SPF_PASS" in s2
    # our own score: SPF pass (-0.1) and no DKIM signature (+0.3)
    assert s2.startswith("No, score=0.2 required=5.0"), s2
    rows = trace_rows(mailroom, 2)
    assert [r["outcome"] for r in rows] == ["accepted", "accepted"]
    assert re.search(r"\bspamd=-?\d+\.\d/5\.0\b", rows[0]["details"])
    assert "spamd=unavailable" in rows[1]["details"]
    log = mailroom.log("smtpd")
    lines = [x for x in log.splitlines() if "event=spamd-unavailable" in x]
    assert len(lines) == 1, lines
    assert "reason=\"127.0.0.1:%d connect failed: Connection refused\"" % d.port in lines[0]


# ---- fake spamds (a Python socket) ------------------------------------------------------

class FakeSpamd:
    """Listens on a loopback port; per connection reads the request (up to
    Content-length, or until EOF) and then does what mode says."""

    def __init__(self, mode, reply=b"", host="127.0.0.1"):
        self.mode, self.reply = mode, reply
        self.requests = []
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = free_port()
        self.sock.bind((host, self.port))
        self.sock.listen(16)
        self.stopping = False
        self.release = threading.Event()  # "stall" answers nothing until set
        self.conns = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        try:
            c.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            m = re.search(rb"Content-length: (\d+)", data)
            want = (data.index(b"\r\n\r\n") + 4 + int(m.group(1))) if m else None
            eof = False
            while want is not None and len(data) < want:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            if self.mode != "stall":
                c.settimeout(5)
                eof = c.recv(1) == b""  # we shut our write side after sending
            self.requests.append((data, eof))
            if self.mode == "stall":
                self.release.wait(30)
            elif self.mode != "close":
                c.sendall(self.reply)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


@pytest.fixture
def fake():
    made = []

    def make(mode, reply=b"", host="127.0.0.1"):
        f = FakeSpamd(mode, reply, host)
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()


GOOD_REPLY = (b"SPAMD/1.1 0 EX_OK\r\nContent-length: 24\r\nSpam: True ; 7.5 / 5.0\r\n\r\n"
              b"FAKE_RULE_A,FAKE_RULE_B\n")


def test_fake_spamd_request_and_reply(mailroom, fake):
    f = fake("answer", GOOD_REPLY)
    start(mailroom, spamd=f"127.0.0.1:{f.port}", spam_subject_tag="[SPAM]")
    msg = message("Offer")
    code, text, _ = send(mailroom, msg)
    assert code == 250, text
    assert len(f.requests) == 1
    req, eof = f.requests[0]
    head_, body = req.split(b"\r\n\r\n", 1)
    lines = head_.split(b"\r\n")
    assert lines[0] == b"SYMBOLS SPAMC/1.5"
    assert lines[1] == b"Content-length: %d" % len(body)
    assert eof, "the write side was not shut after the request"
    assert body.startswith(b"Received: from mx.good.test ([127.0.0.1])\r\n\tby mail.example.test"
                           b" with ESMTP; ")
    assert body.endswith(msg)
    got = pop_all(mailroom)
    h = head(got[0])
    assert field(h, "X-Spam-Score") == "7.5"
    assert field(h, "X-Spam-Flag") == "YES"
    assert field(h, "Subject") == "[SPAM] Offer"
    status = field(h, "X-Spam-Status")
    assert status.startswith("Yes, score=7.5 required=5.0 tests=")
    assert status.endswith(",SPAMD,FAKE_RULE_A,FAKE_RULE_B"), status
    row = trace_rows(mailroom, 1)[0]
    assert row["outcome"] == "tagged" and "spamd=7.5/5.0" in row["details"]


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as t:
            t.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_fake_spamd_on_ipv6_loopback(mailroom, fake):
    f = fake("answer", GOOD_REPLY, host="::1")
    start(mailroom, spamd=f"[::1]:{f.port}")
    assert send(mailroom, message("Six"))[0] == 250
    assert len(f.requests) == 1
    assert field(head(pop_all(mailroom)[0]), "X-Spam-Score") == "7.5"
    assert f'spamd="[::1]:{f.port}"' in mailroom.log("smtpd")


def test_big_message_sends_first_512k(mailroom, fake):
    f = fake("answer", b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.2 / 5.0\r\n\r\n")
    mailroom.extra.setdefault("smtp", {})["message_size_limit"] = "4000000"
    start(mailroom, spamd=f"127.0.0.1:{f.port}")
    line = "0123456789" * 7 + "\r\n"  # 72 octets
    body = line * 15000              # about 1 MB
    msg = message("Big", body)
    code, text, _ = send(mailroom, msg)
    assert code == 250, text
    req, _ = f.requests[0]
    head_, sent = req.split(b"\r\n\r\n", 1)
    assert int(re.search(rb"Content-length: (\d+)", head_).group(1)) == len(sent)
    assert 512 * 1024 - 80 <= len(sent) <= 512 * 1024
    assert sent.endswith(b"\r\n") and sent[-74:-72] == b"\r\n"  # whole lines
    got = pop_all(mailroom)
    assert got[0].endswith(body.encode())  # stored whole
    assert field(head(got[0]), "X-Spam-Score") == "1.2"
    row = trace_rows(mailroom, 1)[0]
    assert "spamd=1.2/5.0 (first 512 KiB)" in row["details"]


@pytest.mark.parametrize("mode,reply,reason", [
    ("answer", b"HTTP/1.0 200 OK\r\n\r\n", "sent a bad reply: not a SPAMD reply"),
    ("answer", b"SPAMD/1.1 0 EX_OK\r\nSpam: maybe ; x / y\r\n\r\n",
     "sent a bad reply: bad Spam header"),
    ("answer", b"SPAMD/1.0 76 Bad header line: (Content-Length mismatch)\r\n\r\n",
     "answered: 76 Bad"),
    ("answer", b"SPAMD/1.1 0 EX_OK\r\n\r\n", "sent a bad reply: no Spam header"),
    ("answer", b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 20.0 / 5.0\r\n",
     "closed the connection: the reply is incomplete"),
    ("close", b"", "closed the connection: no reply"),
])
def test_fake_spamd_garbage_accepted(mailroom, fake, mode, reply, reason):
    f = fake(mode, reply)
    start(mailroom, spamd=f"127.0.0.1:{f.port}", spam_subject_tag="[SPAM]")
    code, text, secs = send(mailroom, message("Hello"))
    assert code == 250, text
    assert secs < 5
    got = pop_all(mailroom)
    assert len(got) == 1
    h = head(got[0])
    assert "SPAMD_UNAVAILABLE" in field(h, "X-Spam-Status")
    assert field(h, "Subject") == "Hello" and "X-Spam-Flag" not in h
    log = mailroom.log("smtpd")
    lines = [x for x in log.splitlines() if "event=spamd-unavailable" in x]
    assert len(lines) == 1 and reason in lines[0], (reason, lines)
    assert "spamd=unavailable" in trace_rows(mailroom, 1)[0]["details"]


def test_fake_spamd_stalls_timeout(mailroom, fake):
    f = fake("stall")
    start(mailroom, spamd=f"127.0.0.1:{f.port}", spamd_timeout=2)
    code, text, secs = send(mailroom, message("Slow"))
    assert code == 250, text
    assert 1.8 <= secs < 4.0, secs
    log = mailroom.log("smtpd")
    assert 'no answer: within 2.000 s"' in log
    # the same connection's next message: the session goes on
    with smtplib.SMTP("127.0.0.1", mailroom.ports["smtp"], timeout=60) as s:
        s.ehlo("mx.good.test")
        s.sendmail("alice@good.test", ["bob@example.test"], message("one"))
        t0 = time.monotonic()
        s.sendmail("alice@good.test", ["bob@example.test"], message("two"))
        assert time.monotonic() - t0 < 4.0
    assert len(pop_all(mailroom)) == 3


def test_at_most_64_messages_wait_for_spamd(mailroom, fake):
    """A stalled spamd and 64 messages waiting for it: the 65th is checked
    without spamd at once (each waiting message holds a copy for spamd, so
    the count bounds smtpd's memory), and once the 64 are answered spamd is
    asked again."""
    f = fake("stall")
    # the longest timeout, so a slow machine still gets all 64 waiting at
    # once (CI once saw 58 of 64 arrive within 5 s under load); the fake is
    # released below, so a quick run takes no longer
    start(mailroom, spamd=f"127.0.0.1:{f.port}", spamd_timeout=300)
    results = []

    def one(i):
        try:
            results.append(send(mailroom, message(f"wait {i}"))[0])
        except Exception as e:  # noqa: BLE001 (recorded, asserted below)
            results.append(repr(e))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(f.requests) < 64 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(f.requests) == 64
    code, text, secs = send(mailroom, message("the 65th"))
    assert code == 250, text
    assert secs < 2.0, secs
    assert "event=spamd-busy inflight=64" in mailroom.log("smtpd")
    assert len(f.requests) == 64
    f.release.set()  # spamd closes on the 64: each is checked without it
    for t in threads:
        t.join(60)
    assert results == [250] * 64, results
    send(mailroom, message("after"))  # stalls again: spamd is asked once more
    assert len(f.requests) == 65


def test_empty_setting_asks_nobody(mailroom, fake):
    """trust.spamd empty (the default): no connection, headers as before."""
    f = fake("answer", GOOD_REPLY)
    start(mailroom)
    assert send(mailroom, message())[0] == 250
    time.sleep(0.3)
    assert f.requests == []
    h = head(pop_all(mailroom)[0])
    assert field(h, "X-Spam-Status") == "No, score=0.2 required=5.0 tests=SPF_PASS,DKIM_NONE"
    assert "spamd" not in trace_rows(mailroom, 1)[0]["details"]
    log = mailroom.log("smtpd")
    assert 'spamd="" spamd_timeout=10' in log and " spamd_ms=" not in log


def test_submission_not_sent_to_spamd(mailroom, fake):
    f = fake("answer", GOOD_REPLY)
    start(mailroom, spamd=f"127.0.0.1:{f.port}")
    with smtplib.SMTP("127.0.0.1", mailroom.ports["submission"], timeout=30) as s:
        s.ehlo("client")
        s.starttls(context=__import__("ssl")._create_unverified_context())
        s.ehlo("client")
        s.login("alice@example.test", USERS["alice@example.test"])
        s.sendmail("alice@example.test", ["bob@example.test"], message(frm="alice@example.test"))
    time.sleep(0.3)
    assert f.requests == []


def test_bad_setting_is_off_and_logged(mailroom, fake):
    start(mailroom, spamd="spamd.example.test:783")
    log = mailroom.log("smtpd")
    assert "event=trust-settings-bad key=trust.spamd" in log
    assert send(mailroom, message())[0] == 250
    assert "SPAMD" not in field(head(pop_all(mailroom)[0]), "X-Spam-Status")


# ---- the panel's Mail checks page ----------------------------------------------------

def test_panel_sets_spamd_and_smtpd_uses_it(mailroom, fake):
    import signal
    from test_web_checks import GOOD, admin, trust_settings
    m = mailroom
    f = fake("answer", GOOD_REPLY)
    start(m)
    w = admin(m)
    page = w.get("/checks").text
    assert re.search(r'id="spamd"[^>]*value=""', page)
    assert re.search(r'id="spamd_timeout"[^>]*value="10"', page)
    assert 'id="spamd-status"' not in page  # no daemon set: nothing to report
    for change, fld in [({"spamd": "spamd.example.test:783"}, "spamd"),
                        ({"spamd": "127.0.0.1:99999"}, "spamd"),
                        ({"spamd": "127.0.0.1:783", "spamd_timeout": "0"}, "spamd_timeout"),
                        ({"spamd": "127.0.0.1:783", "spamd_timeout": "soon"}, "spamd_timeout")]:
        r = w.submit("/checks", "/checks", {**GOOD, **change})
        assert r.status == 400, (change, r)
        assert f'id="{fld}-err" role="alert">' in r.text, change
    assert "trust.spamd" not in trust_settings(m)
    r = w.submit("/checks", "/checks", {**GOOD, "spamd": f"localhost:{f.port}",
                                        "spamd_timeout": "4"})
    assert r.status == 303, r
    got = trust_settings(m)
    assert got["trust.spamd"] == f"127.0.0.1:{f.port}" and got["trust.spamd_timeout"] == "4"
    page = w.get("/checks").text
    assert re.search(r'id="spamd"[^>]*value="127.0.0.1:%d"' % f.port, page)
    audit = w.get("/audit").text
    assert "mail-checks" in audit and f"127.0.0.1:{f.port}" in audit and "spamd_timeout=4" in audit
    # a form without the field (an older client) leaves it alone
    assert w.submit("/checks", "/checks", GOOD).status == 303
    assert trust_settings(m)["trust.spamd"] == f"127.0.0.1:{f.port}"
    # smtpd takes it up on SIGHUP (as on its minute tick) and asks the fake spamd
    before = m.log("smtpd").count("event=trust-settings ")
    m.procs["smtpd"].send_signal(signal.SIGHUP)
    m.wait_log("smtpd", "event=trust-settings ", count=before + 1)
    assert f'spamd="127.0.0.1:{f.port}" spamd_timeout=4' in m.log("smtpd")
    assert send(m, message("Via panel"))[0] == 250
    assert len(f.requests) == 1
    assert field(head(pop_all(m)[0]), "X-Spam-Score") == "7.5"
    # emptied in the panel: off again
    assert w.submit("/checks", "/checks", {**GOOD, "spamd": ""}).status == 303
    assert trust_settings(m)["trust.spamd"] == ""


def spamd_status(w, want, timeout=8.0):
    """The Mail checks page's line on the daemon's last answer, once it
    says want (the trace row is written just after the 250)."""
    deadline = time.monotonic() + timeout
    while True:
        m = re.search(r'<p class="hint[^"]*" id="spamd-status">(.*?)</p>', w.get("/checks").text)
        got = m.group(1) if m else ""
        if want in got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_panel_shows_how_spamd_last_answered(mailroom, fake):
    """Below the address, the Mail checks page says how the daemon answered
    the last message smtpd asked it about (from the message trace): nothing
    yet, its score and threshold, or that it did not answer."""
    from test_web_checks import admin
    m = mailroom
    f = fake("answer", GOOD_REPLY)
    start(m, spamd=f"127.0.0.1:{f.port}")
    w = admin(m)
    assert spamd_status(w, "") == "No message from the internet has been sent to it yet."
    assert send(m, message())[0] == 250
    got = spamd_status(w, "answered")
    assert re.fullmatch(r"Last message \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\): it answered "
                        r"with score 7\.5 \(its own spam threshold 5\.0\)\.", got), got
    f.mode = "close"  # now it hangs up without an answer
    assert send(m, message("Second"))[0] == 250
    got = spamd_status(w, "did not answer")
    assert "it did not answer, so the message was judged by our own checks" in got, got
    assert "event=spamd-unavailable" in got
    assert re.search(r'<p class="hint error" id="spamd-status">', w.get("/checks").text)


# ---- what spamd costs a message ---------------------------------------------------------

def test_added_latency(mailroom, spamd, capsys):
    """End of DATA to the 250, one message at a time, the same clean
    message with spamd off and on (SIGHUP between): printed for the
    README; asserted only loosely (a shared machine)."""
    import signal
    import statistics
    m = start(mailroom)
    n = 15

    def run():
        out = []
        with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=60) as s:
            s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle wait
            s.ehlo("mx.good.test")
            for _ in range(n):
                assert s.mail("alice@good.test")[0] == 250
                assert s.rcpt("bob@example.test")[0] == 250
                assert s.docmd("DATA")[0] == 354
                s.send(message())
                t0 = time.monotonic()
                s.send(b".\r\n")
                code, _ = s.getreply()
                out.append(time.monotonic() - t0)
                assert code == 250
        return out

    off = run()
    set_settings(m, spamd=f"127.0.0.1:{spamd.port}")
    before = m.log("smtpd").count("event=trust-settings ")
    m.procs["smtpd"].send_signal(signal.SIGHUP)
    m.wait_log("smtpd", "event=trust-settings ", count=before + 1)
    on = run()
    ms = [int(x) for x in re.findall(r"spamd_ms=(\d+)", m.log("smtpd"))]
    med_off, med_on = statistics.median(off) * 1000, statistics.median(on) * 1000
    with capsys.disabled():
        print(f"\nspamd latency: end of DATA -> 250, median of {n}: off {med_off:.1f} ms, "
              f"on {med_on:.1f} ms (added {med_on - med_off:.1f} ms; max on "
              f"{max(on) * 1000:.1f} ms); smtpd's spamd_ms median "
              f"{statistics.median(ms)} ms")
    assert len(ms) == n and "spamd-unavailable" not in m.log("smtpd")
    assert med_on > med_off  # spamd really was asked
    assert med_on - med_off < 2000


def test_spamd_alone_when_other_checks_off(mailroom, fake):
    """SPF, DKIM and DMARC off: the verdict waits for spamd alone."""
    f = fake("answer", GOOD_REPLY)
    start(mailroom, spamd=f"127.0.0.1:{f.port}", spf="no", dkim="no", dmarc="no")
    assert send(mailroom, message("Alone"))[0] == 250
    h = head(pop_all(mailroom)[0])
    assert field(h, "X-Spam-Status") == ("Yes, score=7.5 required=5.0 "
                                         "tests=SPAMD,FAKE_RULE_A,FAKE_RULE_B")
    assert len(f.requests) == 1


def test_client_gone_while_spamd_thinks(mailroom, fake):
    """The client drops the connection while the verdict waits for a
    stalled spamd. smtpd does not read a paused session's socket (as while
    DKIM keys are looked up), so the message is judged after the timeout on
    our own checks and stored, once; then smtpd is stopped while another
    verdict waits: it finishes that message (within the timeout) and exits
    cleanly."""
    f = fake("stall")
    start(mailroom, spamd=f"127.0.0.1:{f.port}", spamd_timeout=2)

    def offer(subject):
        s = socket.create_connection(("127.0.0.1", mailroom.ports["smtp"]), timeout=10)
        rf = s.makefile("rb")
        rf.readline()
        for line in (b"EHLO mx.good.test\r\n", b"MAIL FROM:<alice@good.test>\r\n",
                     b"RCPT TO:<bob@example.test>\r\n", b"DATA\r\n"):
            s.sendall(line)
            while rf.readline()[3:4] == b"-":
                pass
        n = len(f.requests)
        s.sendall(message(subject) + b".\r\n")
        deadline = time.monotonic() + 5
        while len(f.requests) == n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(f.requests) == n + 1
        return s

    offer("Gone").close()
    mailroom.wait_log("smtpd", "event=spamd-unavailable", timeout=5)
    got = pop_all(mailroom)
    assert [field(head(g), "Subject") for g in got] == ["Gone"]
    s = offer("Stopped")
    t0 = time.monotonic()
    assert mailroom.stop("smtpd") == 0
    # a stopping smtpd finishes the message in hand: at most the timeout
    assert time.monotonic() - t0 < 4.0
    s.close()
    assert mailroom.log("smtpd").count("event=spamd-unavailable") == 2
    assert [field(head(g), "Subject") for g in pop_all(mailroom)] == ["Gone", "Stopped"]
