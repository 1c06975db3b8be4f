"""Helpers for the smtpd integration tests: a raw SMTP dialogue client that
sees every byte the server sends, a TLS client context that accepts the test
certificate, a logged-in submission client and a POP3 reader, and read-only
views of what the store holds (opened with sqlite3 in read-only URI mode:
assertions only, never writes)."""
import contextlib
import poplib
import smtplib
import socket
import sqlite3
import ssl

import pytest
from sockutil import RawSocket, wait_for  # noqa: F401 (wait_for: re-exported)

USERS = {"alice@example.test": "alice-pw-1", "bob@example.test": "bob-pw-2"}


def tls_client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Dialog(RawSocket):
    """A raw SMTP client: send exact bytes, read whole replies."""

    def __init__(self, port, tls=False, timeout=10, greet=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = tls_client_ctx().wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.reply() if greet else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; partial: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, [lines' text]) of one possibly multi-line reply."""
        lines = []
        while True:
            line = self._line()
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def expect(self, line, code, enhanced=None):
        got, text = self.cmd(line) if line is not None else self.reply()
        assert got == code, f"{line!r}: got {got} {text}, want {code}"
        if enhanced is not None:
            assert text[-1].startswith(enhanced), f"{line!r}: {text} lacks {enhanced}"
        return text

    def open_data(self, helo, sender, rcpt):
        """EHLO, MAIL FROM and RCPT TO each answered 250 and DATA 354: one
        recipient's transaction ready for the message."""
        self.expect(f"EHLO {helo}", 250)
        self.expect(f"MAIL FROM:<{sender}>", 250)
        self.expect(f"RCPT TO:<{rcpt}>", 250)
        self.expect("DATA", 354)

    def starttls(self):
        self.expect("STARTTLS", 220, "2.0.0")
        self.sock = tls_client_ctx().wrap_socket(self.sock)
        self.buf = b""


@contextlib.contextmanager
def submission(m, user):
    """An smtplib client on m's submission port after STARTTLS and AUTH as
    user with its USERS password: how a local user's mail program sends."""
    with smtplib.SMTP("127.0.0.1", m.ports["submission"], timeout=10) as s:
        s.starttls(context=tls_client_ctx())
        s.login(user, USERS[user])
        yield s


def pop3_messages(m, user, password=None):
    """Every message in user's mailbox as a POP3 client reads it (STLS,
    USER/PASS with password or its USERS one, RETR each), CRLF-joined bytes."""
    p = poplib.POP3("127.0.0.1", m.ports["pop3"], timeout=10)
    try:
        p.stls(context=tls_client_ctx())
        p.user(user)
        p.pass_(USERS[user] if password is None else password)
        n = len(p.list()[1])
        return [b"\r\n".join(p.retr(i + 1)[1]) for i in range(n)]
    finally:
        p.quit()


def under_asan(pid):
    """AddressSanitizer's quarantine makes VmHWM checks meaningless."""
    return "libasan" in open(f"/proc/{pid}/maps").read()


def db(m):
    return sqlite3.connect(f"file:{m.db_path}?mode=ro", uri=True, timeout=10)


def mailbox(m, address):
    """Bodies in address's mailbox, in arrival order (the store keeps a
    body in body_chunks rows since schema 3, in bodies.data before)."""
    with db(m) as c:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        ids = [r[0] for r in c.execute(
            "SELECT e.body_id FROM mailbox e JOIN accounts a ON a.id = e.account_id "
            "WHERE a.address = ? ORDER BY e.uid", (address,))]
        out = []
        for bid in ids:
            if "body_chunks" in tables:
                parts = c.execute("SELECT data FROM body_chunks WHERE body_id = ? ORDER BY seq",
                                  (bid,)).fetchall()
                out.append(b"".join(bytes(p[0]) for p in parts))
            else:
                out.append(bytes(c.execute("SELECT data FROM bodies WHERE id = ?",
                                           (bid,)).fetchone()[0]))
    return out


def subjects(bodies):
    """The first Subject: of each message in bodies (mailbox() output)."""
    out = []
    for b in bodies:
        for line in b.split(b"\r\n"):
            if line.startswith(b"Subject: "):
                out.append(line[9:].decode())
                break
    return out


def queue(m):
    with db(m) as c:
        return c.execute("SELECT sender, recipient FROM queue ORDER BY id").fetchall()


def counts(m):
    with db(m) as c:
        return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("mailbox", "bodies", "queue")}


def probes_gone(m):
    """The harness's port probes (one connection to each of the three
    ports, all from 127.0.0.1) count toward max_per_ip until smtpd has
    accepted them and seen them close."""
    log = m.log("smtpd")
    seen = log.count("event=connect") + log.count("event=per-ip-limit")
    return seen >= 3 and log.count("event=connect") == log.count("event=disconnect")


# start_smtpd keyword -> [smtp] config key (durations given in ms).
_TUNING_KEYS = {"greeting_delay_ms": "greeting_delay", "command_timeout_ms": "command_timeout",
                "data_timeout_ms": "data_timeout", "tls_timeout_ms": "tls_timeout",
                "auth_delay_ms": "auth_failure_delay", "max_sessions": "max_sessions",
                "max_per_ip": "max_per_ip", "limit_loopback": "limit_loopback"}


def smtp_tuning(m, **tuning):
    """Put smtpd's timeouts/limits in m.extra["smtp"] (not yet written):
    greeting_delay_ms=500 -> greeting_delay = 500ms, limit_loopback=1 -> yes."""
    smtp = m.extra.setdefault("smtp", {})
    for k, v in tuning.items():
        key = _TUNING_KEYS[k]
        if k.endswith("_ms"):
            v = f"{int(v)}ms"
        elif k == "limit_loopback":
            v = "yes" if v else "no"
        smtp[key] = str(v)


def start_smtpd(m, monkeypatch=None, users=USERS, **tuning):
    """Users added, smtpd started with no greeting delay and a 100 ms AUTH
    failure step unless given; other keywords as smtp_tuning(). The values
    go to the config file (monkeypatch is kept for the callers' sake)."""
    smtp_tuning(m, greeting_delay_ms=0, auth_delay_ms=100)
    smtp_tuning(m, **tuning)
    m.write_config()
    for u, pw in users.items():
        m.add_user(u, pw)
    m.start("smtpd")
    return m


@pytest.fixture
def smtpd(mailroom, monkeypatch):
    return start_smtpd(mailroom, monkeypatch)
