"""Outbound delivery (mailroom-queued) against real parts on loopback.

Mail goes in through the real mailroom-smtpd submission port (STARTTLS +
AUTH as a local user). DNS is a loopback dnsmasq; the "remote" MX hosts are
Postfix's smtp-sink listening on 127.0.0.2, 127.0.0.3, ... at the config's
relay_port. What the tests check is what a user would: the message reached
the right remote server, or the sender got a bounce (read over POP3) that
quotes the remote server's words, or it is still queued for a retry.
"""
import email
import email.policy
import os
import pathlib
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import stop_process
from smtp_util import (USERS, db, pop3_messages, start_smtpd, submission,  # noqa: F401
                       tls_client_ctx, wait_for)

ALICE = "alice@example.test"


class Sink:
    """Postfix's smtp-sink on ip:port writing each message to a file."""

    def __init__(self, ip, port, *opts):
        # smtp-sink writes as nobody: pytest's tmp_path (0700) is closed to it.
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="mailroom-sink-"))
        os.chmod(self.dir, 0o777)
        cmd = ["smtp-sink", "-u", "nobody", "-d", f"{self.dir}/%H%M%S.", *opts, f"{ip}:{port}", "50"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection((ip.strip("[]"), port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("smtp-sink did not start")

    def messages(self):
        out = []
        for p in sorted(self.dir.iterdir()):
            try:
                out.append(p.read_bytes())
            except FileNotFoundError:
                pass  # smtp-sink removes the file of a transaction the client aborted
        return out

    def stop(self):
        stop_process(self.proc, 5)

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def out(mailroom, monkeypatch, tmp_path):
    """smtpd (alice and bob) + a helper to start sinks; queued started by the test."""
    start_smtpd(mailroom, monkeypatch)
    sinks = []

    def sink(ip, *opts):
        s = Sink(ip, mailroom.ports["relay"], *opts)
        sinks.append(s)
        return s
    mailroom.sink = sink
    yield mailroom
    for s in sinks:
        s.remove()


def submit(m, rcpts, subject="hello remote", sender=ALICE, body="Hello from Mailroom.\r\n"):
    msg = (f"From: <{sender}>\r\nTo: <{rcpts[0]}>\r\nSubject: {subject}\r\n"
           f"Message-ID: <{subject.replace(' ', '.')}.{time.time_ns()}@example.test>\r\n\r\n{body}")
    with submission(m, sender) as s:
        s.sendmail(sender, rcpts, msg.encode())


def queue_rows(m):
    with db(m) as c:
        return c.execute("SELECT sender, recipient, attempts, next_attempt, last_error"
                         " FROM queue ORDER BY id").fetchall()


MX2 = ("--mx-host=remote.test,mx1.remote.test,10", "--mx-host=remote.test,mx2.remote.test,20",
       "--host-record=mx1.remote.test,127.0.0.2", "--host-record=mx2.remote.test,127.0.0.3")


def test_delivered_to_the_preferred_mx(out):
    out.start_dns(*MX2)
    best, second = out.sink("127.0.0.2"), out.sink("127.0.0.3")
    out.start("queued")
    submit(out, ["friend@remote.test", "other@remote.test"])
    assert wait_for(lambda: len(best.messages()) == 1, 15), out.log("queued")
    # smtp-sink creates its file at MAIL; it is whole once we have the 250.
    assert wait_for(lambda: queue_rows(out) == [], 10)
    got = best.messages()[0]
    assert b"Subject: hello remote" in got and b"Hello from Mailroom." in got
    assert b"friend@remote.test" in got and b"other@remote.test" in got  # one transaction
    assert second.messages() == []
    assert "event=delivered" in out.log("queued")


def test_second_mx_when_the_first_is_down(out):
    out.start_dns(*MX2)
    second = out.sink("127.0.0.3")  # nothing listens on 127.0.0.2
    out.start("queued")
    submit(out, ["friend@remote.test"])
    assert wait_for(lambda: len(second.messages()) == 1, 15), out.log("queued")
    assert wait_for(lambda: queue_rows(out) == [], 5)


def test_421_at_data_moves_to_the_next_mx(out):
    out.start_dns(*MX2)
    first = out.sink("127.0.0.2", "-Q", "DATA")
    second = out.sink("127.0.0.3")
    out.start("queued")
    submit(out, ["friend@remote.test"])
    assert wait_for(lambda: len(second.messages()) == 1, 15), out.log("queued")
    assert first.messages() == []


def test_implicit_mx_uses_the_domain_address(out):
    out.start_dns("--host-record=remote.test,127.0.0.2")
    sink = out.sink("127.0.0.2")
    out.start("queued")
    submit(out, ["friend@remote.test"])
    assert wait_for(lambda: len(sink.messages()) == 1, 15), out.log("queued")


def test_ipv6_mx(out):
    # An MX with only an AAAA record (::1): reached over IPv6.
    out.start_dns("--mx-host=remote.test,mx6.remote.test,10", "--host-record=mx6.remote.test,::1")
    sink = out.sink("[::1]")
    out.start("queued")
    submit(out, ["friend@remote.test"])
    assert wait_for(lambda: len(sink.messages()) == 1, 15), out.log("queued")
    assert "event=connect host=mx6.remote.test ip=::1" in out.log("queued")


def dsn_of(m, user=ALICE):
    assert wait_for(lambda: len(pop3_messages(m, user)) >= 1, 15), m.log("queued")
    raw = pop3_messages(m, user)[0]
    return raw, email.message_from_bytes(raw, policy=email.policy.default)


def check_report(msg, rcpt, status_prefix):
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["Auto-Submitted"] == "auto-replied"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"]
    status = parts[1].as_string()
    assert f"Final-Recipient: rfc822; {rcpt}" in status
    assert "Action: failed" in status
    assert f"Status: {status_prefix}" in status
    return parts


def test_5xx_bounces_with_the_remote_words(out):
    out.start("pop3d")
    out.start_dns(*MX2)
    out.sink("127.0.0.2", "-f", "RCPT")
    out.start("queued")
    submit(out, ["nobody@remote.test"], subject="doomed message")
    raw, msg = dsn_of(out)
    parts = check_report(msg, "nobody@remote.test", "5.3.0")
    assert "500 5.3.0 Error: command failed" in parts[0].get_content()
    assert "Diagnostic-Code: smtp; 500 5.3.0 Error: command failed" in parts[1].as_string()
    assert "Remote-MTA: dns; mx1.remote.test" in parts[1].as_string()
    assert b"Subject: doomed message" in raw  # the original headers come back
    assert b"Hello from Mailroom." not in raw  # ... but not the body
    assert wait_for(lambda: queue_rows(out) == [], 5)


def test_null_mx_bounces_at_once(out):
    out.start("pop3d")
    out.start_dns("--mx-host=nomail.test,.,0")
    out.start("queued")
    submit(out, ["someone@nomail.test"])
    raw, msg = dsn_of(out)
    check_report(msg, "someone@nomail.test", "5.1.10")
    assert b"null MX" in raw
    assert queue_rows(out) == []


def test_unknown_domain_bounces(out):
    out.start("pop3d")
    out.start_dns()  # every name: NXDOMAIN
    out.start("queued")
    submit(out, ["someone@nowhere.test"])
    raw, msg = dsn_of(out)
    check_report(msg, "someone@nowhere.test", "5.1.2")


def test_4xx_is_retried_later_then_delivered(out):
    out.start_dns(*MX2[:1], MX2[2])
    grey = out.sink("127.0.0.2", "-r", "RCPT")
    out.start("queued")
    submit(out, ["friend@remote.test"])
    assert wait_for(lambda: queue_rows(out) and queue_rows(out)[0][2] == 1, 15), out.log("queued")
    sender, rcpt, attempts, next_attempt, last_error = queue_rows(out)[0]
    assert (sender, rcpt) == (ALICE, "friend@remote.test")
    assert 40 <= next_attempt - time.time() <= 67  # first backoff: a minute, +-10% (slow box slack)
    assert last_error.startswith("4") and "Error: command failed" in last_error
    grey.stop()
    ok = out.sink("127.0.0.2")
    out.ctl("queue", "flush")
    assert wait_for(lambda: len(ok.messages()) == 1, 15), out.log("queued")
    assert wait_for(lambda: queue_rows(out) == [], 5)


def test_lifetime_reached_bounces(out):
    out.extra = {"queue": {"lifetime": "60"}}
    out.write_config()
    out.start("pop3d")
    out.start_dns(*MX2[:1], MX2[2])  # mx1 down: connection refused
    out.start("queued")
    submit(out, ["friend@remote.test"])
    assert wait_for(lambda: queue_rows(out) and queue_rows(out)[0][2] == 1, 15)
    # Pretend it was queued two minutes ago (the helpers' db() is read-only).
    subprocess.run(["sqlite3", str(out.db_path),
                    "UPDATE queue SET created = created - 120, next_attempt = 0"], check=True)
    raw, msg = dsn_of(out)
    check_report(msg, "friend@remote.test", "4.4.7")
    assert b"gave up after" in raw and b"mx1.remote.test" in raw


def test_delay_warning_once(out):
    out.extra = {"queue": {"delay_warning": "60"}}
    out.write_config()
    out.start("pop3d")
    out.start_dns(*MX2[:1], MX2[2])  # mx1 down: connection refused
    out.start("queued")
    submit(out, ["friend@remote.test"], subject="slow one")
    assert wait_for(lambda: queue_rows(out) and queue_rows(out)[0][2] == 1, 15)
    assert pop3_messages(out, ALICE) == []  # not late yet: no warning
    # It has now waited two minutes (past delay_warning) and is due again.
    subprocess.run(["sqlite3", str(out.db_path),
                    "UPDATE queue SET created = created - 120, next_attempt = 0"], check=True)
    assert wait_for(lambda: len(pop3_messages(out, ALICE)) == 1, 15), out.log("queued")
    raw = pop3_messages(out, ALICE)[0]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    report = list(msg.iter_parts())[1].as_string()
    assert "Action: delayed" in report and "Final-Recipient: rfc822; friend@remote.test" in report
    assert b"Subject: slow one" in raw
    assert wait_for(lambda: queue_rows(out)[0][2] == 2, 15)  # still queued, retried
    subprocess.run(["sqlite3", str(out.db_path), "UPDATE queue SET next_attempt = 0"], check=True)
    assert wait_for(lambda: queue_rows(out)[0][2] == 3, 15)
    assert len(pop3_messages(out, ALICE)) == 1  # warned once only


def test_null_sender_is_never_bounced(out):
    # bob forwards to a remote address; a bounce (null sender) to bob then
    # goes out with the null sender and is rejected there: no new bounce.
    out.ctl("alias", "add", "fwd@example.test", "friend@remote.test")
    out.start_dns(*MX2[:1], MX2[2])
    out.sink("127.0.0.2", "-f", "RCPT")
    out.start("queued")
    with smtplib.SMTP("127.0.0.1", out.ports["smtp"], timeout=10) as s:
        s.sendmail("", ["fwd@example.test"], b"Subject: a bounce\r\n\r\nreport\r\n")
    assert wait_for(lambda: "event=bounce-suppressed" in out.log("queued"), 15), out.log("queued")
    # The line is logged just before the row's delete commits.
    assert wait_for(lambda: queue_rows(out) == [], 5)
    with db(out) as c:
        assert c.execute("SELECT count(*) FROM mailbox").fetchone()[0] == 0


def dkim_key(m, domain="example.test"):
    """A 2048-bit RSA key made by openssl where mailroom-queued looks for it,
    and its public key as the TXT record a verifier would fetch."""
    d = m.data_dir / "dkim"
    d.mkdir(exist_ok=True)
    key = d / f"{domain}.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(key)], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import base64
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def test_dkim_signature_verifies(out):
    import dkim
    txt = dkim_key(out)
    out.start_dns(*MX2[:1], MX2[2])
    sink = out.sink("127.0.0.2")
    out.start("queued")
    body = "Hello  from Mailroom.   \r\n\r\nTabs\there, trailing blanks   \r\n\r\n\r\n"
    submit(out, ["friend@remote.test"], subject="signed  mail", body=body)
    assert wait_for(lambda: len(sink.messages()) == 1, 15), out.log("queued")
    assert wait_for(lambda: queue_rows(out) == [], 10)  # the file is whole
    raw = sink.messages()[0]
    msg = raw[raw.index(b"DKIM-Signature:"):]  # smtp-sink's envelope lines come first
    assert b"d=example.test; s=mailroom;" in msg and b"a=rsa-sha256; c=relaxed/relaxed;" in msg
    assert b"Return-Path:" not in msg  # a relay does not send it on (RFC 5321 4.4)
    asked = []

    def dns(name, timeout=5):
        asked.append(name)
        return txt if name == b"mailroom._domainkey.example.test." else None
    assert dkim.verify(msg, dnsfunc=dns), out.log("queued")
    assert asked == [b"mailroom._domainkey.example.test."]
    # One changed byte in the body and the signature fails (the check can fail).
    assert not dkim.verify(msg.replace(b"Tabs", b"Tabz"), dnsfunc=dns)


def test_dkim_ed25519_second_signature(out):
    import base64
    import dkim
    rsa_txt = dkim_key(out)
    key = out.data_dir / "dkim" / "example.test.ed25519.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ED25519", "-out", str(key)],
                   check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    ed_txt = b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])  # RFC 8463: the raw key
    records = {b"mailroom._domainkey.example.test.": rsa_txt,
               b"mailroom-ed25519._domainkey.example.test.": ed_txt}
    out.start_dns(*MX2[:1], MX2[2])
    sink = out.sink("127.0.0.2")
    out.start("queued")
    submit(out, ["friend@remote.test"], subject="two signatures")
    assert wait_for(lambda: len(sink.messages()) == 1, 15), out.log("queued")
    assert wait_for(lambda: queue_rows(out) == [], 10)
    raw = sink.messages()[0]
    msg = raw[raw.index(b"DKIM-Signature:"):]
    assert msg.count(b"DKIM-Signature:") == 2 and b"a=ed25519-sha256;" in msg
    d = dkim.DKIM(msg)
    dns = lambda name, timeout=5: records.get(name)  # noqa: E731
    assert d.verify(idx=0, dnsfunc=dns) and d.verify(idx=1, dnsfunc=dns)
    bad = dkim.DKIM(msg.replace(b"Hello from", b"Hallo from"))
    with pytest.raises(dkim.ValidationError, match="body hash mismatch"):
        bad.verify(idx=1, dnsfunc=dns)


def test_no_dkim_key_no_signature(out):
    out.start_dns(*MX2[:1], MX2[2])
    sink = out.sink("127.0.0.2")
    out.start("queued")
    submit(out, ["friend@remote.test"])
    assert wait_for(lambda: len(sink.messages()) == 1, 15), out.log("queued")
    assert wait_for(lambda: queue_rows(out) == [], 10)
    assert b"DKIM-Signature" not in sink.messages()[0]


def test_dkim_key_from_mailroomctl(out):
    import dkim
    import re
    r = out.ctl("dkim", "generate", "example.test", check=False)
    if r.returncode != 0 and "unknown" in r.stderr:
        pytest.skip("mailroomctl has no dkim verb yet (cli/main.c table)")
    assert r.returncode == 0, r.stderr
    recs = dict(re.findall(r'^(mailroom(?:-ed25519)?\._domainkey\.example\.test\.) IN TXT '
                           r'"(v=DKIM1; k=(?:rsa|ed25519); p=[A-Za-z0-9+/=]+)"$', r.stdout, re.M))
    assert len(recs) == 2, r.stdout
    for f in ("example.test.pem", "example.test.ed25519.pem"):
        assert (out.data_dir / "dkim" / f).stat().st_mode & 0o077 == 0
    again = out.ctl("dkim", "generate", "example.test", check=False)
    assert again.returncode == 1 and "--force" in again.stderr  # a key is never replaced silently
    shown = out.ctl("dkim", "show", "example.test").stdout
    assert all(v in shown for v in recs.values())
    out.start_dns(*MX2[:1], MX2[2])
    sink = out.sink("127.0.0.2")
    out.start("queued")
    submit(out, ["friend@remote.test"], subject="signed by a ctl key")
    assert wait_for(lambda: len(sink.messages()) == 1, 15), out.log("queued")
    assert wait_for(lambda: queue_rows(out) == [], 10)  # the file is whole
    raw = sink.messages()[0]
    msg = raw[raw.index(b"DKIM-Signature:"):]
    dns = lambda name, timeout=5: recs.get(name.decode(), "").encode() or None  # noqa: E731
    d = dkim.DKIM(msg)
    assert d.verify(idx=0, dnsfunc=dns) and d.verify(idx=1, dnsfunc=dns)
