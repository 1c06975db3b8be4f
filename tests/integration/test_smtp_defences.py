"""Hostile input against the real smtpd: SMTP smuggling with bare LF / bare
CR / NUL (nothing smuggled is stored, the session keeps serving), every
classic relay form refused, oversize by SIZE and while streaming (nothing
stored), long text lines, a 25 MB message in bounded memory, early talkers,
timeouts, the per-IP session limit, and SIGTERM finishing a transaction."""
import os
import signal
import socket
import threading
import time

import pytest

from smtp_util import (Dialog, counts, mailbox, probes_gone, queue, smtpd, start_smtpd,  # noqa: F401
                       under_asan, wait_for)


def open_txn(d, rcpt="alice@example.test"):
    d.open_data("client.remote.test", "a@remote.test", rcpt)


SMUGGLED = (b"MAIL FROM:<ceo@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nwire money\r\n")

ENDINGS = {
    "bare-LF-dot-LF": b"\n.\n",
    "CRLF-dot-LF": b"\r\n.\n",
    "LF-dot-CRLF": b"\n.\r\n",
    "bare-CR-dot-CR": b"\r.\r",
    "CR-dot-CRLF": b"\r.\r\n",
    "CRLF-dot-CR": b"\r\n.\r",
    "NUL-dot": b"\r\n\0.\r\n",
    "double-CR": b"\r\r\n.\r\r\n",
}


@pytest.mark.parametrize("name", list(ENDINGS))
def test_smuggling_refused_nothing_stored(smtpd, name):
    d = Dialog(smtpd.ports["smtp"])
    open_txn(d)
    d.send(b"Subject: first\r\n\r\nhello" + ENDINGS[name] + SMUGGLED + b".\r\n")
    code, text = d.reply()
    assert 500 <= code < 600, (name, code, text)
    assert text[0].startswith("5.")
    # nothing else was answered: no 250s for smuggled commands
    d.sock.settimeout(0.5)
    with pytest.raises((socket.timeout, TimeoutError)):
        extra = d.sock.recv(100)
        if extra:
            raise AssertionError(f"{name}: server answered smuggled text: {extra!r}")
    d.sock.settimeout(10)
    # and the session still serves
    d.expect("NOOP", 250)
    d.expect("QUIT", 221)
    assert counts(smtpd)["mailbox"] == 0
    assert mailbox(smtpd, "bob@example.test") == []


def test_bare_lf_refused_then_next_message_ok(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    open_txn(d)
    d.send(b"Subject: x\n\nunix line ends\n.\r\n")  # no CRLF.CRLF yet
    d.send(b"\r\n.\r\n")
    d.expect(None, 554, "5.6.0")
    d.expect("MAIL FROM:<a@remote.test>", 250)
    d.expect("RCPT TO:<alice@example.test>", 250)
    d.expect("DATA", 354)
    d.send(b"Subject: good\r\n\r\nok\r\n.\r\n")
    d.expect(None, 250)
    got = mailbox(smtpd, "alice@example.test")
    assert len(got) == 1 and b"Subject: good" in got[0]


RELAY_FORMS = [
    "friend@remote.test",
    "friend%remote.test@example.test",
    "remote.test!friend@example.test",
    "friend%remote.test@[127.0.0.1]",
    '"friend@remote.test"@example.test',
    '"friend%remote.test"@example.test',
    "@example.test:friend@remote.test",
    "@example.test,@mail.example.test:friend@remote.test",
    "friend@remote.test@example.test",
    "friend@[127.0.0.1]",
    "friend@[IPv6:::1]",
    "friend@example.test.",
    "friend@remote.test.",
    "friend@example.test.remote.test",
    "alice@example.test@remote.test",
]


@pytest.mark.parametrize("port", ["smtp", "submission"])
@pytest.mark.parametrize("sender", ["<>", "<a@remote.test>", "<alice@example.test>",
                                    "<postmaster@mail.example.test>"])
def test_every_relay_form_refused(smtpd, port, sender):
    d = Dialog(smtpd.ports[port])
    d.expect("EHLO client", 250)
    if port == "submission":
        d.starttls()
        d.expect("EHLO client", 250)
        d.expect("MAIL FROM:" + sender, 530, "5.7.0")  # no AUTH, no MAIL
        return
    d.expect("MAIL FROM:" + sender, 250)
    for form in RELAY_FORMS:
        code, text = d.cmd(f"RCPT TO:<{form}>")
        assert code in (501, 550, 553, 554), (form, code, text)
        if code == 421:
            break
        d.expect("RSET", 250)
        d.expect("MAIL FROM:" + sender, 250)
    assert queue(smtpd) == []


def test_authenticated_relay_forms_still_refused(smtpd):
    from smtp_util import tls_client_ctx
    import smtplib
    with smtplib.SMTP_SSL("127.0.0.1", smtpd.ports["smtps"], context=tls_client_ctx()) as s:
        s.login("alice@example.test", "alice-pw-1")
        for form in RELAY_FORMS[1:]:
            s.mail("alice@example.test")
            code, _ = s.rcpt(form)
            s.rset()
            if form in ("friend@example.test.remote.test",):
                continue  # a real remote domain: relayed for a user, fine
            assert code >= 500, form
    assert all(r[1] in ("friend@example.test.remote.test",) for r in queue(smtpd))


def test_oversize_by_size_and_streaming(mailroom, monkeypatch):
    m = mailroom
    m.extra["smtp"] = {"message_size_limit": "10000"}
    m.write_config()
    start_smtpd(m, monkeypatch)
    d = Dialog(m.ports["smtp"])
    code, lines = d.cmd("EHLO client")
    assert "SIZE 10000" in lines
    d.expect("MAIL FROM:<a@remote.test> SIZE=10001", 552, "5.3.4")
    d.expect("MAIL FROM:<a@remote.test> SIZE=9000", 250)
    d.expect("RCPT TO:<alice@example.test>", 250)
    d.expect("DATA", 354)
    d.send(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 200 + b".\r\n")
    d.expect(None, 552, "5.3.4")
    d.expect("NOOP", 250)
    assert counts(m)["mailbox"] == 0 and counts(m)["bodies"] == 0


def test_text_line_over_998_refused(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    open_txn(d)
    d.send(b"Subject: long\r\n\r\n" + b"y" * 998 + b"\r\n" + b"z" * 999 + b"\r\n.\r\n")
    d.expect(None, 554, "5.6.0")
    d.expect("NOOP", 250)
    assert counts(smtpd)["mailbox"] == 0


def vm_kb(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def test_25mb_message_bounded_memory(smtpd):
    pid = smtpd.pid("smtpd")
    if under_asan(pid):
        pytest.skip("AddressSanitizer's quarantine makes VmHWM meaningless")
    d = Dialog(smtpd.ports["smtp"])
    open_txn(d)
    before = vm_kb(pid, "VmHWM")
    line = b"0123456789" * 9 + b"\r\n"  # 92 octets
    chunk = line * 1000
    d.send(b"Subject: big\r\n\r\n")
    total = 0
    while total < 25 * 1024 * 1024 - 200000:
        d.send(chunk)
        total += len(chunk)
    d.send(b".\r\n")
    d.sock.settimeout(120)
    d.expect(None, 250)
    after = vm_kb(pid, "VmHWM")
    assert after - before < 8 * 1024, f"VmHWM grew by {after - before} kB"
    from smtp_util import db
    with db(smtpd) as c:
        size = c.execute("SELECT size FROM mailbox").fetchone()[0]
    assert size > total


def test_early_talker_554(mailroom, monkeypatch):
    m = start_smtpd(mailroom, monkeypatch, greeting_delay_ms=500)
    s = socket.create_connection(("127.0.0.1", m.ports["smtp"]))
    s.sendall(b"EHLO hasty\r\n")
    data = b""
    s.settimeout(5)
    while True:
        d = s.recv(1000)
        if not d:
            break
        data += d
    assert data.startswith(b"554 5.5.0"), data
    assert b"220" not in data
    assert "event=early-talker" in m.log("smtpd")
    # a patient client is served
    d = Dialog(m.ports["smtp"])
    assert d.greeting[0] == 220


def test_command_timeout_421(mailroom, monkeypatch):
    m = start_smtpd(mailroom, monkeypatch, command_timeout_ms=700)
    d = Dialog(m.ports["smtp"])
    d.expect("EHLO client", 250)
    d.sock.settimeout(5)
    d.expect(None, 421, "4.4.2")
    assert d.closed()


def test_per_ip_session_limit(mailroom, monkeypatch):
    m = start_smtpd(mailroom, monkeypatch, max_per_ip=3, limit_loopback=1)
    assert wait_for(lambda: probes_gone(m))
    held = [Dialog(m.ports["smtp"]) for _ in range(3)]
    extra = Dialog(m.ports["smtp"])
    assert extra.greeting[0] == 421 and extra.greeting[1][0].startswith("4.7.0")
    held[0].expect("QUIT", 221)
    held[0].closed()
    time.sleep(0.2)
    again = Dialog(m.ports["smtp"])
    assert again.greeting[0] == 220
    assert "event=per-ip-limit" in m.log("smtpd")


def test_sigterm_finishes_transaction(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    open_txn(d)
    d.send(b"Subject: in flight\r\n\r\npart one\r\n")
    idle = Dialog(smtpd.ports["smtp"])
    idle.expect("EHLO idle", 250)
    smtpd.procs["smtpd"].send_signal(signal.SIGTERM)
    idle.expect(None, 421, "4.3.2")  # idle sessions are told at once
    time.sleep(0.3)
    assert smtpd.procs["smtpd"].poll() is None  # still finishing ours
    d.send(b"part two\r\n.\r\n")
    d.expect(None, 250)
    d.expect(None, 421, "4.3.2")
    assert smtpd.procs["smtpd"].wait(10) == 0
    assert b"part two" in mailbox(smtpd, "alice@example.test")[0]


def test_port_taken_one_line(mailroom):
    from conftest import BUILD
    import subprocess
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", mailroom.ports["submission"]))
    blocker.listen()
    try:
        r = subprocess.run([str(BUILD / "mailroom-smtpd"), "-c", str(mailroom.cfg_path)],
                           capture_output=True, text=True, timeout=20)
    finally:
        blocker.close()
    assert r.returncode == 1
    err = [l for l in r.stderr.splitlines() if "mailroom-smtpd:" in l]
    assert len(err) == 1 and f"127.0.0.1:{mailroom.ports['submission']}" in err[0]


def test_client_gone_while_committing(smtpd):
    """A client that sends the message and hangs up before the 250: the
    session's commit still completes cleanly and smtpd keeps serving."""
    for _ in range(20):
        d = Dialog(smtpd.ports["smtp"])
        open_txn(d)
        d.send(b"Subject: bye\r\n\r\nhanging up\r\n.\r\n")
        d.close()
    assert wait_for(lambda: smtpd.log("smtpd").count("event=disconnect") >= 20)
    d = Dialog(smtpd.ports["smtp"])
    open_txn(d)
    d.send(b"Subject: after\r\n\r\nstill here\r\n.\r\n")
    d.expect(None, 250)
    assert len(mailbox(smtpd, "alice@example.test")) == 21


def test_stalled_tls_handshakes_do_not_block_others(mailroom, monkeypatch):
    m = start_smtpd(mailroom, monkeypatch, tls_timeout_ms=2000)
    stalled = []
    for _ in range(300):
        s = socket.create_connection(("127.0.0.1", m.ports["smtps"]))
        s.sendall(b"\x16\x03\x01\x00")  # the first bytes of a ClientHello, then nothing
        stalled.append(s)
    d = Dialog(m.ports["smtps"], tls=True)  # a real client is served at once
    d.expect("EHLO ok", 250)
    d.expect("QUIT", 221)
    # the stalled ones are dropped after the handshake timeout
    stalled[0].settimeout(10)
    assert stalled[0].recv(100) == b""
    for s in stalled:
        s.close()


def test_hundred_thousand_rcpts_pipelined(smtpd):
    """100,000 pipelined RCPTs: the cap answers 452 4.5.3 past 100, memory
    stays bounded (the server stops reading while replies pile up) and the
    session still works afterwards."""
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO c", 250)
    d.expect("MAIL FROM:<a@remote.test>", 250)
    pid = smtpd.pid("smtpd")
    before = vm_kb(pid, "VmHWM")
    n = 100000
    payload = b"RCPT TO:<alice@example.test>\r\n" * n
    sender = threading.Thread(target=d.send, args=(payload,))
    sender.start()
    codes = {}
    for _ in range(n):
        code, _ = d.reply()
        codes[code] = codes.get(code, 0) + 1
    sender.join()
    assert codes == {250: 100, 452: n - 100}
    if not under_asan(pid):
        assert vm_kb(pid, "VmHWM") - before < 8 * 1024
    d.expect("DATA", 354)
    d.send(b"Subject: many\r\n\r\nx\r\n.\r\n")
    d.expect(None, 250)
    assert len(mailbox(smtpd, "alice@example.test")) == 1


@pytest.mark.parametrize("param", [
    "SIZE=-1", "SIZE=99999999999999999999999", "SIZE=1 SIZE=2", "BODY=8BITMIME BODY=7BIT",
    "SMTPUTF8=yes", "X" * 400, "SIZE=\x00", "A=B C=D E=F G=H I=J K=L M=N O=P Q=R",
])
def test_hostile_mail_parameters(smtpd, param):
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO c", 250)
    code, text = d.cmd("MAIL FROM:<a@remote.test> " + param)
    assert 500 <= code < 600, (param, code, text)
    d.expect("MAIL FROM:<a@remote.test>", 250)  # still serving
    d.expect("QUIT", 221)


def _send_quietly(d, payload):
    try:
        d.send(payload)
    except OSError:
        pass  # the server hung up after its 421: expected


def test_pipelined_flood_over_tls(smtpd):
    """The reply backlog stops reading and resumes when the client reads,
    also through the TLS layer (STARTTLS on the MX port)."""
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO c", 250)
    d.starttls()
    d.expect("EHLO c", 250)
    d.expect("MAIL FROM:<a@remote.test>", 250)
    n = 30000
    payload = b"RCPT TO:<alice@example.test>\r\n" * n
    sender = threading.Thread(target=_send_quietly, args=(d, payload))
    sender.start()
    time.sleep(1.0)  # the server fills its backlog and stops reading
    codes = [d.reply()[0] for _ in range(n)]
    sender.join(30)
    assert codes.count(250) == 100 and codes.count(452) == n - 100
    d.expect("NOOP", 250)


def test_pipelined_rcpt_flood_plain_backpressure(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO c", 250)
    d.expect("MAIL FROM:<a@remote.test>", 250)
    n = 30000
    payload = b"RCPT TO:<alice@example.test>\r\n" * n
    sender = threading.Thread(target=d.send, args=(payload,))
    sender.start()
    time.sleep(1.0)  # let the server fill its reply backlog and stop reading
    codes = [d.reply()[0] for _ in range(n)]
    sender.join(30)
    assert codes.count(452) == n - 100
