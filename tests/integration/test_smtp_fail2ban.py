"""The shipped fail2ban filter matches the lines the real smtpd writes for
abuse (AUTH failure, relay attempt, early talker, too many errors) and
picks the client's address, and matches nothing in a clean session."""
import base64
import pathlib
import re
import shutil
import subprocess

import pytest

from smtp_util import Dialog, smtpd, start_smtpd  # noqa: F401

FILTER = pathlib.Path(__file__).resolve().parents[2] / "packaging/fail2ban/filter.d/mailroom.conf"


def failregexes():
    text = FILTER.read_text()
    m = re.search(r"^failregex\s*=\s*(.*?)(?=^\w|\Z)", text, re.S | re.M)
    lines = [l.strip() for l in m.group(1).splitlines() if l.strip()]
    host = r"(?P<host>[0-9a-fA-F.:]+)"
    return [re.compile(l.replace("<HOST>", host)) for l in lines]


def matches(log):
    out = []
    for line in log.splitlines():
        for rx in failregexes():
            mm = rx.search(line)
            if mm:
                out.append((mm.group("host"), line))
    return out


def test_filter_matches_smtpd_abuse_lines(mailroom, monkeypatch):
    m = start_smtpd(mailroom, monkeypatch, greeting_delay_ms=300)
    # clean session first: nothing may match
    d = Dialog(m.ports["submission"])
    d.expect("EHLO ok", 250)
    d.expect("QUIT", 221)
    assert matches(m.log("smtpd")) == []
    # early talker
    import socket
    s = socket.create_connection(("127.0.0.1", m.ports["smtp"]))
    s.sendall(b"EHLO hasty\r\n")
    s.recv(100)
    s.close()
    # relay attempt
    d = Dialog(m.ports["smtp"])
    d.expect("EHLO x", 250)
    d.expect("MAIL FROM:<a@remote.test>", 250)
    d.expect("RCPT TO:<victim@elsewhere.test>", 554)
    # AUTH failure
    d = Dialog(m.ports["smtps"], tls=True)
    d.expect("EHLO x", 250)
    d.expect("AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0nope-nope").decode(), 535)
    found = matches(m.log("smtpd"))
    events = {re.search(r"event=(\S+)", l).group(1) for _, l in found}
    assert {"early-talker", "relay-denied", "auth-failed"} <= events
    assert {h for h, _ in found} == {"127.0.0.1"}


@pytest.mark.skipif(shutil.which("fail2ban-regex") is None, reason="fail2ban not installed")
def test_fail2ban_regex_tool(smtpd, tmp_path):
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO x", 250)
    d.expect("MAIL FROM:<a@remote.test>", 250)
    d.expect("RCPT TO:<victim@elsewhere.test>", 554)
    log = tmp_path / "smtpd.log"
    log.write_text(smtpd.log("smtpd"))
    r = subprocess.run(["fail2ban-regex", str(log), str(FILTER)], capture_output=True, text=True)
    assert re.search(r"Failregex: [1-9]\d* total", r.stdout), r.stdout
