"""smtpd now holds a message of up to 64 KiB in memory until its trust
verdict (smtp_trust.h SMTP_TRUST_HOLD_MAX) and sends replies in the loop
turn that made them. Attacks on exactly that: messages whose size sweeps
across 64 KiB byte by byte (so the held copy, with the headers smtpd adds,
is 64 KiB -1, 0 and +1 for some of them) on the MX port with the checks on
and off, each stored exactly once and byte-exact; a malformed end of data
with a smuggled message behind it placed right at the 64 KiB boundary; and
a pipelining client that never reads its replies (smtpd's memory must not
grow with what it sends)."""
import socket
import sqlite3
import time

import pytest

from pop3_util import rss_kb
from smtp_util import Dialog, mailbox, queue, start_smtpd, wait_for

ALICE, BOB = "alice@example.test", "bob@example.test"
HOLD = 64 * 1024


def set_checks(m, on):
    with sqlite3.connect(m.db_path, timeout=10) as c:
        for k in ("trust.spf", "trust.dkim", "trust.dmarc", "trust.reject_forged_own_domain"):
            c.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                      (k, "yes" if on else "no"))


@pytest.fixture(params=["checks-on", "checks-off"])
def mx(request, mailroom, monkeypatch):
    m = mailroom
    start_smtpd(m, monkeypatch, command_timeout_ms=60000)
    set_checks(m, request.param == "checks-on")
    m.stop("smtpd")
    m.start("smtpd")
    m.checks = request.param == "checks-on"
    return m


def body_of(size, tag):
    """A message of exactly size bytes (CRLF lines, no line starting with '.')."""
    head = f"From: <x@remote.test>\r\nTo: <{ALICE}>\r\nSubject: {tag}\r\n\r\n".encode()
    need = size - len(head) - len(b"end\r\n")
    lines = []
    while need > 0:
        n = min(need, 78)
        if need - n in (1,):
            n -= 2
        lines.append(b"y" * (n - 2) + b"\r\n")
        need -= n
    m = head + b"".join(lines) + b"end\r\n"
    assert len(m) == size
    return m


def test_sizes_across_the_hold_limit(mx):
    sizes = list(range(HOLD - 700, HOLD - 300, 37)) + list(range(HOLD - 300, HOLD + 40))
    d = Dialog(mx.ports["smtp"], timeout=60)
    d.expect("EHLO client.remote.test", 250)
    sent = []
    for size in sizes:
        msg = body_of(size, f"size {size}")
        d.expect("MAIL FROM:<x@remote.test>", 250)
        d.expect(f"RCPT TO:<{ALICE}>", 250)
        d.expect("DATA", 354)
        d.send(msg + b".\r\n")
        code, text = d.reply()
        assert code == 250, (size, code, text)
        sent.append(msg)
    d.expect("QUIT", 221)
    d.close()
    got = mailbox(mx, ALICE)
    assert len(got) == len(sent)
    for msg, stored in zip(sent, got):
        # smtpd puts its own fields (Return-Path, Received, Authentication-Results) first
        assert stored.endswith(msg), (len(msg), len(stored), stored[-200:])
        assert stored.count(b"Subject: size ") == 1
        # the checks really ran on the held copy (their verdict field is on top)
        assert (b"spf=" in stored[:len(stored) - len(msg)]) == mx.checks, stored[:600]
    assert mx.procs["smtpd"].poll() is None


SMUGGLED = (b"MAIL FROM:<ceo@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
            b"Subject: SMUGGLED\r\n\r\nwire money\r\n.\r\nQUIT\r\n")


@pytest.mark.parametrize("ending", [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n\0.\r\n"])
def test_smuggling_at_the_hold_boundary(mx, ending):
    for shift in range(-6, 3):
        head = b"Subject: edge\r\n\r\n"
        pad = HOLD + shift - len(head)
        text = head + (b"z" * 70 + b"\r\n") * (pad // 72) + b"q" * (pad % 72)
        d = Dialog(mx.ports["smtp"], timeout=60)
        d.open_data("client.remote.test", "a@remote.test", ALICE)
        d.send(text + ending + SMUGGLED)
        code, reply = d.reply()
        # the bad ending is text (or refused): one message at most, never two
        assert code >= 500 or code == 250, (shift, code, reply)
        d.close()
        assert mailbox(mx, BOB) == [], (ending, shift)
        assert queue(mx) == []
        for b in mailbox(mx, ALICE):
            assert b.count(b"Subject: SMUGGLED") <= 1
        assert mx.procs["smtpd"].poll() is None
    # and a normal client still gets through
    d = Dialog(mx.ports["smtp"], timeout=30)
    d.open_data("ok.remote.test", "ok@remote.test", ALICE)
    d.send(b"Subject: after\r\n\r\nok\r\n.\r\n")
    d.expect(None, 250)
    d.close()


@pytest.mark.noasan
def test_pipelining_client_that_never_reads(mx):
    pid = mx.procs["smtpd"].pid
    s = socket.create_connection(("127.0.0.1", mx.ports["smtp"]))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.recv(512)  # the greeting
    s.sendall(b"EHLO reader.remote.test\r\n")
    time.sleep(0.3)
    before = rss_kb(pid)
    s.settimeout(0.5)
    sent = 0
    burst = b"NOOP\r\n" * 10000 + b"RSET\r\n" * 10000 + b"HELP\r\n" * 5000
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sent < 64 << 20:
        try:
            sent += s.send(burst)
        except (socket.timeout, BlockingIOError):
            break  # smtpd stopped reading: the backpressure works
        except OSError:
            break  # or it closed on us
    time.sleep(0.5)
    after = rss_kb(pid)
    # a reply is ~30 bytes per 6-byte command: without backpressure 'sent'
    # bytes of commands would queue ~5x as much output in smtpd
    print(f"non-reader: sent={sent} rss_before={before}kB rss_after={after}kB")
    assert after - before < 16 * 1024, (before, after, sent)
    s.close()
    d = Dialog(mx.ports["smtp"], timeout=30)
    d.expect("EHLO ok.remote.test", 250)
    d.expect("QUIT", 221)
    d.close()
    assert mx.procs["smtpd"].poll() is None
