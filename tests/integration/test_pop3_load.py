"""mailroom-pop3d under the loads an office gives it: a 10,000-message
mailbox, a 50 MB message streamed with bounded memory, and mail that
smtpd delivers while a POP3 session is open (it shows in the next one)."""
import poplib
import smtplib
import time
import warnings

import pytest

from conftest import BUILD
from pop3_util import PASSWORD, USER, Raw, generate, login, message, pop3_client, rss_kb, stall_report


def test_ten_thousand_messages(mailroom):
    m = mailroom
    m.add_user(USER, PASSWORD)
    generate(m, USER, 10000, 600)
    m.start("pop3d")
    p = poplib.POP3("127.0.0.1", m.ports["pop3"], timeout=60)
    p.user(USER)
    t = time.monotonic()
    assert p.pass_(PASSWORD) == b"+OK maildrop has 10000 messages (6000000 octets)"
    assert p.stat() == (10000, 6000000)
    _, lines, _ = p.list()
    assert len(lines) == 10000 and lines[0] == b"1 600" and lines[-1] == b"10000 600"
    _, uidls, _ = p.uidl()
    assert len({l.split()[1] for l in uidls}) == 10000
    assert [int(l.split()[0]) for l in uidls] == list(range(1, 10001))
    assert time.monotonic() - t < 10
    _, body, octets = p.retr(10000)
    assert b"Subject: generated message 10000" in body
    assert p.list(10000) == b"+OK 10000 600"
    _, head, _ = p.top(5000, 0)
    assert head[2] == b"Subject: generated message 5000"
    p.quit()
    # delete all 10,000 in one pipelined burst; QUIT removes them in one go
    with login(m.ports["pop3"]) as r:
        r.send("".join(f"DELE {i}\r\n" for i in range(1, 10001)))
        for i in range(1, 10001):
            assert r.line() == f"+OK message {i} deleted"
        assert r.cmd("STAT") == "+OK 0 0"
        assert r.cmd("QUIT") == "+OK Mailroom POP3 server signing off (10000 messages deleted)"
    p = pop3_client(m, timeout=60)
    assert p.stat() == (0, 0)
    p.quit()


@pytest.mark.parametrize("tls", [False, True])
def test_fifty_megabyte_message_streams_with_bounded_memory(mailroom, tls, monkeypatch):
    m = mailroom
    # Under AddressSanitizer freed blocks sit in a 256 MB quarantine, which
    # would read as growth; a small one keeps the bound meaningful there.
    monkeypatch.setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:quarantine_size_mb=4")
    size = 50 * 1024 * 1024
    m.add_user(USER, PASSWORD)
    generate(m, USER, 1, size)
    m.start("pop3d")
    pid = m.pid("pop3d")
    port = m.ports["pop3s" if tls else "pop3"]
    r = login(port, tls=tls)
    # VmHWM is no use here: the password hash at login (yescrypt) peaks
    # higher than streaming should; sample VmRSS while the body flows.
    before = rss_kb(pid)
    assert r.cmd("RETR 1") == f"+OK {size} octets"
    time.sleep(1.0)  # a slow reader: the server must wait, not buffer
    peak = rss_kb(pid)
    got, tail, r.buf = len(r.buf), r.buf[-5:], b""
    next_sample = 0
    while tail != b"\r\n.\r\n":
        try:
            chunk = r.sock.recv(1 << 20)
        except TimeoutError:
            # Nothing for 10 s: seen once in a full `make test`, never in 234
            # runs of this test alone. pop3d is at fault only if it stopped
            # feeding the socket (its send queue empty, the answer not
            # done); octets still in the kernel's send queue are TCP's (or
            # a paused VM's) to deliver, so that is reported and waited out.
            queued, report = stall_report(pid, port)
            assert queued > 0, f"pop3d stopped writing after {got} octets:\n{report}"
            warnings.warn(f"TCP held {queued} octets for over 10 s after {got}:\n{report}")
            r.sock.settimeout(120)
            chunk = r.sock.recv(1 << 20)
            r.sock.settimeout(10)
        assert chunk
        got += len(chunk)
        tail = (tail + chunk)[-5:]
        if got >= next_sample:
            peak = max(peak, rss_kb(pid))
            next_sample += 2 << 20
    # generated lines never start with '.', so no stuffing: size + ".\r\n"
    assert got == size + 3
    grown = peak - before
    print(f"RSS before {before} kB, peak while streaming {peak} kB")
    assert grown < 16 * 1024, f"RSS grew by {grown} kB for a 50 MB message"
    assert r.cmd("TOP 1 2").startswith("+OK")
    assert len(r.multi()) == 4 + 1 + 2  # 4 header lines, blank, 2 body lines
    r.cmd("QUIT")


def test_delivery_by_smtpd_while_a_session_is_open(mailroom):
    m = mailroom
    if not (BUILD / "mailroom-smtpd").exists():
        pytest.skip("mailroom-smtpd is not built yet")
    m.add_user(USER, PASSWORD)
    m.start("smtpd", "pop3d")

    def send(subject):
        with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=30) as s:
            s.sendmail("alice@example.test", [USER], message(subject))

    send("before the session")
    with login(m.ports["pop3"]) as r:
        assert r.cmd("STAT").startswith("+OK 1 ")
        send("during the session")
        # the snapshot was taken at login: new mail waits for the next session
        assert r.cmd("STAT").startswith("+OK 1 ")
        assert r.cmd("LIST").startswith("+OK 1 messages")
        assert len(r.multi()) == 1
        assert r.cmd("RETR 2").startswith("-ERR no such message")
        assert r.cmd("DELE 1").startswith("+OK")
        assert "1 messages deleted" in r.cmd("QUIT")
    p = pop3_client(m)
    assert p.stat()[0] == 1
    assert b"Subject: during the session" in p.retr(1)[1]
    p.quit()
