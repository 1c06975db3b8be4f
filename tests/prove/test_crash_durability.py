"""Crash durability (issue 8 item 5, issue 3's figure): SIGKILL
mailroom-smtpd 20 times while clients send under load, recording every 250
they got. Afterwards every acknowledged message is in its local mailbox
exactly once (read from the store read-only), PRAGMA integrity_check passes
after each kill, and the outbound queue resumes: every acknowledged
message's remote copy reaches the loopback MX (smtp-sink) and the queue
drains. The figures go to build/prove-figures/sigkill.txt."""
import random
import smtplib
import sqlite3
import threading
import time

from smtp_util import USERS, mailbox, start_smtpd, subjects, tls_client_ctx, wait_for
from test_outbound import MX2, Sink
from mailroom_harness import REPO

ALICE, BOB = "alice@example.test", "bob@example.test"
KILLS = 20


class Sender(threading.Thread):
    """Sends numbered messages over and over, reconnecting after a kill;
    `acked` holds the subjects the server answered 250 to."""

    def __init__(self, m, tag, remote):
        super().__init__(daemon=True)
        self.m, self.tag, self.remote = m, tag, remote
        self.acked, self.tried, self.errors = [], 0, 0
        self.stop = threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            try:
                port = self.m.ports["submission" if self.remote else "smtp"]
                with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
                    if self.remote:
                        s.starttls(context=tls_client_ctx())
                        s.login(ALICE, USERS[ALICE])
                    while not self.stop.is_set():
                        subj = f"dur-{self.tag}-{n}"
                        n += 1
                        rcpts = [BOB, "friend@remote.test"] if self.remote else [BOB]
                        sender = ALICE if self.remote else "load@remote.test"
                        msg = (f"From: <{sender}>\r\nSubject: {subj}\r\n"
                               f"Message-ID: <{subj}@prove.test>\r\n\r\n" + ("x" * 76 + "\r\n") * 26)
                        self.tried += 1
                        s.sendmail(sender, rcpts, msg.encode())
                        self.acked.append(subj)   # only after the 250 to DATA
            except (OSError, smtplib.SMTPException):
                self.errors += 1
                time.sleep(0.05)


def integrity(m):
    c = sqlite3.connect(f"file:{m.db_path}?mode=ro", uri=True, timeout=30)
    try:
        return c.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        c.close()


def test_sigkill_smtpd_20_times_loses_no_acknowledged_message(mailroom, monkeypatch):
    m = mailroom
    m.start_dns(*MX2[:1], MX2[2])
    sink = Sink("127.0.0.2", m.ports["relay"])
    try:
        # The submission sender sends hundreds of messages in seconds as
        # alice; the sending limit (test_outbound_limit.py) would rightly
        # suspend her past 300 and hold the rest, which is not what this
        # test is about: it measures durability, so the limit is off.
        m.extra.setdefault("queue", {})["account_hourly_limit"] = "0"
        start_smtpd(m, monkeypatch)
        m.start("queued")
        senders = [Sender(m, f"mx{i}", False) for i in range(3)] + [Sender(m, "sub", True)]
        for s in senders:
            s.start()
        rnd = random.Random(8)
        checks = []
        for k in range(KILLS):
            base = sum(len(s.acked) for s in senders)
            assert wait_for(lambda: sum(len(s.acked) for s in senders) >= base + 8, 60), \
                f"no progress before kill {k}:\n{m.log('smtpd')[-2000:]}"
            time.sleep(rnd.uniform(0, 0.2))
            m.kill("smtpd")
            checks.append(integrity(m))
            assert checks[-1] == "ok", (k, checks[-1])
            m.start("smtpd")
        base = sum(len(s.acked) for s in senders)
        assert wait_for(lambda: sum(len(s.acked) for s in senders) >= base + 8, 60)
        for s in senders:
            s.stop.set()
        for s in senders:
            s.join(60)
        acked = [a for s in senders for a in s.acked]
        tried = sum(s.tried for s in senders)
        got = subjects(mailbox(m, BOB))
        lost = [a for a in acked if got.count(a) == 0]
        dup = [a for a in set(got) if got.count(a) > 1]
        # The remote copies: the queue resumes and drains to the sink.
        remote_acked = [a for s in senders if s.remote for a in s.acked]

        def sink_subjects():
            return set(subjects([b.replace(b"\n", b"\r\n") for b in sink.messages()]))
        wait_for(lambda: set(remote_acked) <= sink_subjects(), 120)
        remote_lost = [a for a in remote_acked if a not in sink_subjects()]
        out = REPO / "build" / "prove-figures"
        out.mkdir(parents=True, exist_ok=True)
        (out / "sigkill.txt").write_text(
            f"kills={KILLS} tried={tried} acked={len(acked)} lost={len(lost)} dup={len(dup)} "
            f"remote_acked={len(remote_acked)} remote_lost={len(remote_lost)} "
            f"integrity_ok={checks.count('ok')}/{len(checks)}\n")
        print((out / "sigkill.txt").read_text())
        assert lost == [], f"{len(lost)} acknowledged messages lost: {lost[:10]}"
        assert dup == [], f"stored more than once: {dup[:10]}"
        assert len(acked) >= KILLS * 8
        assert remote_lost == [], f"{len(remote_lost)} queued messages never delivered"
        assert integrity(m) == "ok"
        # No unacknowledged leftovers beyond what was in flight at each kill.
        assert len(set(got)) <= tried
    finally:
        sink.remove()
