"""Load and durability: Postfix's smtp-source with 100 parallel sessions
(every message stored exactly once), and SIGKILL of smtpd under load from a
Python client that records every 250: each acknowledged message must be in
the store exactly once after every kill, and the database must stay sound."""
import random
import signal
import smtplib
import subprocess
import threading
import time

from smtp_util import counts, db, mailbox, smtpd, start_smtpd, wait_for  # noqa: F401
from conftest import wait_port


def test_smtp_source_100_sessions(smtpd):
    r = subprocess.run(
        ["smtp-source", "-s", "100", "-m", "1000", "-l", "4096", "-M", "client.remote.test",
         "-f", "a@remote.test", "-t", "alice@example.test",
         f"127.0.0.1:{smtpd.ports['smtp']}"],
        capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    c = counts(smtpd)
    assert c["mailbox"] == 1000 and c["bodies"] == 1000
    with db(smtpd) as conn:
        # each body is one message, each mailbox entry points at its own body
        assert conn.execute("SELECT count(DISTINCT body_id) FROM mailbox").fetchone()[0] == 1000
    log = smtpd.log("smtpd")
    assert log.count("event=delivered") == 1000


def test_smtp_source_persistent_sessions_two_recipients(smtpd):
    # -r 2 sends to "1alice@..." and "2alice@...": the catch-all takes both
    smtpd.ctl("alias", "add", "@example.test", "alice@example.test")
    r = subprocess.run(
        ["smtp-source", "-d", "-s", "20", "-m", "2000", "-l", "10240", "-r", "2",
         "-f", "a@remote.test", "-t", "alice@example.test",
         f"127.0.0.1:{smtpd.ports['smtp']}"],
        capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    # both recipients expand to alice: one entry per message, one body each
    assert len(mailbox(smtpd, "alice@example.test")) == 2000
    assert counts(smtpd)["bodies"] == 2000
    # group commit: far fewer commits than messages under 20 sessions
    log = smtpd.log("smtpd")
    assert log.count("event=delivered") == 2000


class AckingClient:
    """Threads sending numbered messages; records each one that got 250."""

    def __init__(self, port, threads=8):
        self.port = port
        self.acked = set()
        self.lock = threading.Lock()
        self.stop = False
        self.seq = 0
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def next_id(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def run(self):
        while not self.stop:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
                    s.ehlo("load")
                    while not self.stop:
                        n = self.next_id()
                        body = (f"Subject: msg-{n}\r\nX-Seq: {n}\r\n\r\n" +
                                "x" * random.randint(10, 5000) + "\r\n")
                        s.sendmail("a@remote.test", ["alice@example.test"], body)
                        with self.lock:
                            self.acked.add(n)
            except (OSError, smtplib.SMTPException):
                time.sleep(0.05)

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        self.stop = True
        for t in self.threads:
            t.join(30)


def stored_seqs(m):
    seqs = []
    for body in mailbox(m, "alice@example.test"):
        for line in body.split(b"\r\n"):
            if line.startswith(b"X-Seq: "):
                seqs.append(int(line[7:]))
                break
    return seqs


def test_20_sigkills_under_load_lose_no_acknowledged_message(smtpd):
    client = AckingClient(smtpd.ports["smtp"])
    client.start()
    kills = 20
    for i in range(kills):
        time.sleep(random.uniform(0.3, 0.9))
        smtpd.kill("smtpd")
        with client.lock:
            acked_at_kill = set(client.acked)
        seqs = stored_seqs(smtpd)
        missing = acked_at_kill - set(seqs)
        assert not missing, f"kill {i}: acknowledged but not stored: {sorted(missing)[:10]}"
        assert len(seqs) == len(set(seqs)), f"kill {i}: a message stored twice"
        with db(smtpd) as c:
            assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        smtpd.start("smtpd")
    time.sleep(0.5)
    client.join()
    seqs = stored_seqs(smtpd)
    assert client.acked <= set(seqs)
    assert len(seqs) == len(set(seqs))
    assert len(client.acked) > 50, "the load did not run"
