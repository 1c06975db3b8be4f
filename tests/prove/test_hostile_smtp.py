"""Hostile SMTP dialogues against the real mailroom-smtpd (issue 8 item 3).

Each test asserts the reply code the RFCs and issue 3 ask for AND that the
daemon still serves a normal client afterwards (`assert_serves`): a hostile
client may lose its own session, never the server. The classes of bug are
the famous ones: SMTP smuggling (CVE-2023-51764 class), STARTTLS command
injection (CVE-2011-0411 class), Exim's 21Nails (overlong input, NUL bytes,
parameter parsing), OpenSMTPD CVE-2020-7247 (shell metacharacters in an
address reaching an exec: the daemons must store and log them literally)."""
import base64
import os
import socket
import ssl
import threading
import time

import pytest

from mailroom_harness import BUILD
from smtp_util import (USERS, Dialog, counts, mailbox, queue, smtpd,  # noqa: F401
                       start_smtpd, tls_client_ctx, wait_for)

ALICE, BOB = "alice@example.test", "bob@example.test"


def assert_serves(m, tag="after"):
    """A fresh client can still deliver one message end to end."""
    before = len(mailbox(m, ALICE))
    d = Dialog(m.ports["smtp"], timeout=30)
    d.open_data("well.behaved.test", "ok@remote.test", ALICE)
    d.send(f"Subject: {tag}\r\n\r\nstill serving\r\n.\r\n")
    d.expect(None, 250)
    d.expect("QUIT", 221)
    d.close()
    assert len(mailbox(m, ALICE)) == before + 1
    assert m.procs["smtpd"].poll() is None


def no_more_replies(d, wait=0.7):
    """Nothing further arrives on the session (e.g. smuggled commands unanswered)."""
    d.sock.settimeout(wait)
    try:
        extra = d.buf or d.sock.recv(4096)
    except (socket.timeout, TimeoutError):
        extra = b""
    except (ConnectionResetError, ssl.SSLError, OSError):
        extra = b""
    d.sock.settimeout(30)
    return extra


def auth_plain(user, pw):
    return base64.b64encode(f"\0{user}\0{pw}".encode()).decode()


def submission_dialog(m):
    d = Dialog(m.ports["submission"], timeout=30)
    d.expect("EHLO client", 250)
    d.starttls()
    d.expect("EHLO client", 250)
    d.expect("AUTH PLAIN " + auth_plain(ALICE, USERS[ALICE]), 235)
    return d


# ---- 1. malformed end-of-data with a smuggled message behind it ----------
SMUGGLED = (b"MAIL FROM:<ceo@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
            b"Subject: SMUGGLED\r\n\r\nwire money\r\n.\r\nQUIT\r\n")
ENDINGS = {
    "LF.LF": b"\n.\n", "CRLF.LF": b"\r\n.\n", "LF.CRLF": b"\n.\r\n",
    "CR.CR": b"\r.\r", "CR.CRLF": b"\r.\r\n", "CRLF.CR": b"\r\n.\r",
    "CR.LF": b"\r.\n", "NUL.CRLF": b"\r\n\0.\r\n", "CRLF.NUL": b"\r\n.\0\r\n",
    "CRCRLF.CRCRLF": b"\r\r\n.\r\r\n", "CRLF.CRCRLF": b"\r\n.\r\r\n",
    "CRLF.space": b"\r\n. \r\n", "CRLF..LF": b"\r\n..\n",
}
VALID_TEXT = {"CRLF.space"}


@pytest.mark.parametrize("port", ["smtp", "submission"])
@pytest.mark.parametrize("name", list(ENDINGS))
def test_malformed_end_of_data_smuggles_nothing(smtpd, port, name):
    if port == "smtp":
        d = Dialog(smtpd.ports["smtp"], timeout=30)
        d.expect("EHLO client.remote.test", 250)
        d.expect("MAIL FROM:<a@remote.test>", 250)
    else:
        d = submission_dialog(smtpd)
        d.expect(f"MAIL FROM:<{ALICE}>", 250)
    d.expect(f"RCPT TO:<{ALICE}>", 250)
    d.expect("DATA", 354)
    d.send(b"Subject: first\r\n\r\nhello" + ENDINGS[name] + SMUGGLED)
    # The smuggled ".\r\n" is a proper CRLF.CRLF only if the bad ending was
    # swallowed as text: then the whole thing is ONE refused message (5xx).
    code, text = d.reply()
    if name in VALID_TEXT:
        # ". " is an ordinary (dot-stuffed) text line: ONE message up to the real
        # CRLF.CRLF, the "smuggled" commands are its body text, never commands.
        assert code == 250, (name, code, text)
        got = mailbox(smtpd, ALICE)
        assert len(got) == 1 and b"SMUGGLED" in got[0]
        assert mailbox(smtpd, BOB) == []
        d.expect(None, 221)  # the QUIT after the real end
        d.close()
        assert_serves(smtpd, name)
        return
    assert 500 <= code < 600, (name, code, text)
    extra = no_more_replies(d)
    assert not extra.startswith(b"250") and not extra.startswith(b"354"), (name, extra)
    d.close()
    assert mailbox(smtpd, BOB) == [], name
    assert all(b"SMUGGLED" not in b for b in mailbox(smtpd, ALICE)), name
    assert queue(smtpd) == []
    assert_serves(smtpd, name)


# ---- 2. STARTTLS / STLS with commands pipelined behind it ----------------
@pytest.mark.parametrize("port", ["smtp", "submission"])
def test_starttls_pipelined_commands_discarded(smtpd, port):
    d = Dialog(smtpd.ports[port], timeout=30)
    d.expect("EHLO client", 250)
    d.send(b"STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
           b"DATA\r\nSubject: injected\r\n\r\nx\r\n.\r\n")
    code, _ = d.reply()
    assert code == 220
    tls = tls_client_ctx().wrap_socket(d.sock)
    d.sock, d.buf = tls, b""
    # The injected commands were thrown away: in TLS the first reply is to our EHLO,
    # and a MAIL without a fresh EHLO would get 503.
    d.expect("NOOP", 250)
    d.expect("MAIL FROM:<a@remote.test>", 503)
    text = d.expect("EHLO again", 250)
    assert not any(t.upper().startswith("STARTTLS") for t in text)
    d.expect("QUIT", 221)
    assert mailbox(smtpd, BOB) == [] and queue(smtpd) == []
    assert_serves(smtpd)


# ---- 3. overlong commands without CRLF ------------------------------------
def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.parametrize("size", [513, 1000, 4096, 65536, 1 << 20, 16 << 20])
def test_overlong_command_without_crlf(smtpd, size):
    """The server may wait for the line end (it discards, never buffers, the
    excess); meanwhile it serves others in bounded memory; at the line end the
    long command gets 500 5.5.2 (or the session ends with 421), never 250."""
    pid = smtpd.pid("smtpd")
    rss0 = rss_kb(pid)
    d = Dialog(smtpd.ports["smtp"], timeout=30)
    d.expect("EHLO client", 250)
    dropped = False
    try:
        d.send(b"NOOP " + b"A" * (size - 5))
    except (BrokenPipeError, ConnectionResetError):
        dropped = True  # dropping a flood is allowed too
    assert_serves(smtpd, f"during overlong {size}")
    grown = rss_kb(pid) - rss0
    if "asan" not in str(BUILD):  # ASan's quarantine and shadow memory move RSS on their own
        assert grown < 8 * 1024, f"smtpd grew by {grown} kB while a {size} B line was pending"
    if not dropped:
        try:
            d.send(b"\r\n")
            code, text = d.reply()
            assert code in (500, 421), (size, code, text)
            if code == 500:
                d.expect("NOOP", 250)  # the session parses the next command normally
        except (EOFError, ConnectionResetError, BrokenPipeError):
            pass
    d.close()
    assert_serves(smtpd, f"overlong {size}")


# ---- 4. NUL bytes in commands, addresses and AUTH -------------------------
@pytest.mark.parametrize("line", [
    b"EH\0LO client", b"MAIL FROM:<a\0@remote.test>", b"RCPT TO:<alice\0@example.test>",
    b"RCPT TO:<alice@example.test\0>", b"RCPT TO:<alice@example.test>\0 SIZE=1",
    b"NOOP\0", b"\0"])
def test_nul_in_command_refused(smtpd, line):
    d = Dialog(smtpd.ports["smtp"], timeout=30)
    d.expect("EHLO client", 250)
    d.expect("MAIL FROM:<a@remote.test>", 250)
    if line.startswith(b"MAIL"):
        d.expect("RSET", 250)
    d.send(line + b"\r\n")
    code, text = d.reply()
    assert 500 <= code < 600, (line, code, text)
    d.expect("QUIT", 221)
    assert mailbox(smtpd, ALICE) == []
    assert_serves(smtpd)


@pytest.mark.parametrize("payload", [
    "\0alice@example.test\0alice-pw-1\0extra",
    "\0alice@example.test\0alice-pw-1\0",
    "alice@example.test\0alice@example.test\0alice-pw-1",  # authzid other than self? same
    "\0alice@example.test\0alice-pw-1" + "\0" * 100,
    "\0alice@exa\0mple.test\0alice-pw-1",
    "\0\0",
    "\0" * 400,
])
def test_nul_tricks_in_auth_plain(smtpd, payload):
    d = Dialog(smtpd.ports["submission"], timeout=30)
    d.expect("EHLO c", 250)
    d.starttls()
    d.expect("EHLO c", 250)
    b64 = base64.b64encode(payload.encode()).decode()
    code, text = d.cmd("AUTH PLAIN " + b64)
    if payload.startswith("alice@example.test\0alice@example.test\0"):
        assert code in (235, 535, 501), (code, text)  # authzid == authcid may be accepted
    else:
        assert code in (501, 535), (payload, code, text)
    d.close()
    assert_serves(smtpd)


# ---- 5. shell metacharacters and template syntax, stored literally --------
META = ["$(touch${IFS}/tmp/mr-pwned)", "`touch /tmp/mr-pwned`", "${jndi:ldap://127.0.0.1/a}",
        "a|touch /tmp/mr-pwned", "a;id", "{{7*7}}", "%s%n%x", "a&&id"]


@pytest.mark.parametrize("meta", META)
def test_shell_and_template_syntax_stored_and_logged_literally(smtpd, meta):
    if os.path.exists("/tmp/mr-pwned"):
        os.unlink("/tmp/mr-pwned")
    d = Dialog(smtpd.ports["smtp"], timeout=30)
    d.expect("EHLO client", 250)
    # As a local part of the sender (OpenSMTPD's hole was in MAIL FROM's local part).
    local = meta.replace(" ", "_")
    code, text = d.cmd(f"MAIL FROM:<{local}@remote.test>")
    sender_ok = code == 250
    if not sender_ok:
        assert code in (501, 553, 550, 554), (meta, code, text)
        code, text = d.cmd(f'MAIL FROM:<"{local}"@remote.test>')
        if code != 250:
            assert code in (501, 553, 550, 554), (meta, code, text)
            d.expect("MAIL FROM:<x@remote.test>", 250)
    d.expect(f"RCPT TO:<{ALICE}>", 250)
    # As a recipient: unknown or malformed, never accepted, never run.
    unknown_logged = False
    for form in (f'"{local}"@example.test', f"{local}@example.test"):
        code, text = d.cmd(f"RCPT TO:<{form}>")
        assert code in (501, 550, 553, 554), (meta, code, text)
        unknown_logged |= code == 550
    d.expect("DATA", 354)
    d.send(f"From: {meta}\r\nSubject: {meta}\r\n\r\n{meta}\r\n.\r\n".encode())
    d.expect(None, 250)
    d.expect("QUIT", 221)
    got = mailbox(smtpd, ALICE)
    assert len(got) == 1 and f"Subject: {meta}".encode() in got[0]
    assert not os.path.exists("/tmp/mr-pwned"), "a metacharacter reached a shell"
    log = smtpd.log("smtpd")
    # logged literally (the log escapes only control bytes and quotes)
    if sender_ok:
        assert f"from=<{local}@remote.test>" in log, log[-2000:]
    if unknown_logged:
        assert f"to=<{local}@example.test>" in log, log[-2000:]
    assert "uid=0(root)" not in log and "uid=" not in got[0].decode("latin-1")
    assert_serves(smtpd)


# ---- 6. MAIL/RCPT parameters: huge, negative, repeated, CR/LF ------------
@pytest.mark.parametrize("params,ok", [
    ("SIZE=99999999999999999999999999", False), ("SIZE=-1", False), ("SIZE=1 SIZE=2", False),
    ("SIZE=" + "9" * 5000, False), ("BODY=8BITMIME BODY=7BIT", False), ("BODY=" + "X" * 400, False),
    ("SIZE=0x10", False), ("SIZE=", False), ("SIZE=10\rRCPT TO:<bob@example.test>", False),
    ("X" * 400 + "=" + "Y" * 50, False), ("SIZE=100", True), ("BODY=8BITMIME", True)])
def test_mail_params_hostile(smtpd, params, ok):
    d = Dialog(smtpd.ports["smtp"], timeout=30)
    d.expect("EHLO client", 250)
    code, text = d.cmd(f"MAIL FROM:<a@remote.test> {params}")
    if ok:
        assert code == 250, (params, code, text)
    else:
        assert code in (500, 501, 552, 555), (params, code, text)
    extra = no_more_replies(d, 0.4)
    assert extra == b"", (params, extra)  # the CR did not split it into two commands
    d.close()
    assert queue(smtpd) == [] and mailbox(smtpd, BOB) == []
    assert_serves(smtpd)


@pytest.mark.parametrize("params", ["NOTIFY=NEVER NOTIFY=NEVER", "ORCPT=" + "x" * 2000,
                                    "SIZE=-5", "FOO=\x01", "NOTIFY=" + ",".join(["SUCCESS"] * 200)])
def test_rcpt_params_hostile(smtpd, params):
    d = Dialog(smtpd.ports["smtp"], timeout=30)
    d.expect("EHLO client", 250)
    d.expect("MAIL FROM:<a@remote.test>", 250)
    code, text = d.cmd(f"RCPT TO:<{ALICE}> {params}")
    assert code in (500, 501, 555), (params, code, text)
    d.close()
    assert_serves(smtpd)


# ---- 7. 100,000 RCPTs --------------------------------------------------------
def test_100000_rcpts(smtpd):
    n = 100_000
    d = Dialog(smtpd.ports["smtp"], timeout=120)
    d.expect("EHLO client", 250)
    d.expect("MAIL FROM:<a@remote.test>", 250)
    codes = {}
    closed = []

    def reader():
        try:
            for _ in range(n):
                c, _t = d.reply()
                codes[c] = codes.get(c, 0) + 1
                if c == 421:
                    closed.append(True)
                    return
        except (EOFError, OSError):
            closed.append(True)
    t = threading.Thread(target=reader)
    t.start()
    batch = b"".join(f"RCPT TO:<{ALICE}>\r\n".encode() for _ in range(1000))
    try:
        for _ in range(n // 1000):
            d.send(batch)
            if closed:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    t.join(300)
    assert not t.is_alive()
    accepted = codes.get(250, 0)
    assert 1 <= accepted <= 1000, codes  # capped at max_recipients (issue 3: 452 4.5.3)
    assert codes.get(452, 0) + codes.get(421, 0) + codes.get(503, 0) + codes.get(500, 0) >= 1, codes
    d.close()
    assert_serves(smtpd)


# ---- 8. one header of 50 MB of continuation lines ----------------------------
def test_50mb_header_of_continuation_lines(mailroom, monkeypatch):
    mailroom.extra = {"smtp": {"message_size_limit": "10000000"}}
    mailroom.write_config()
    m = start_smtpd(mailroom, monkeypatch)
    d = Dialog(m.ports["smtp"], timeout=120)
    d.open_data("client", "a@remote.test", ALICE)
    line = b"\t" + b"x" * 77 + b"\r\n"
    chunk = line * (1 << 14)  # ~1.3 MB
    sent = len(b"X-Big: start\r\n")
    d.send(b"X-Big: start\r\n")
    try:
        while sent < 50_000_000:
            d.send(chunk)
            sent += len(chunk)
        d.send(b"\r\nbody\r\n.\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    code, text = d.reply()
    assert code == 552, (code, text)
    d.close()
    assert mailbox(m, ALICE) == []
    assert_serves(m)


# ---- 9. AUTH mechanism switching and endless 334 loops ----------------------
def test_auth_mechanism_switching_and_334_loops(smtpd):
    d = Dialog(smtpd.ports["submission"], timeout=30)
    d.expect("EHLO c", 250)
    d.starttls()
    d.expect("EHLO c", 250)
    # switching mechanism in the middle of an exchange: the "AUTH PLAIN ..." line
    # is the answer to the 334, not a new command; it must not authenticate.
    d.expect("AUTH LOGIN", 334)
    code, _ = d.cmd("AUTH PLAIN " + auth_plain(ALICE, USERS[ALICE]))
    if code == 334:
        code, _ = d.cmd("AUTH PLAIN " + auth_plain(ALICE, USERS[ALICE]))
    assert code in (501, 535, 421), code
    # unknown mechanism, nested AUTH, cancel
    if code != 421:
        code, _ = d.cmd("AUTH CRAM-MD5")
        assert code in (504, 421), code
    d.close()
    # endless loop: answer every 334 with another empty line / garbage; the server
    # must end each exchange within a bounded number of 334s and then the session.
    d = Dialog(smtpd.ports["submission"], timeout=60)
    d.expect("EHLO c", 250)
    d.starttls()
    d.expect("EHLO c", 250)
    n334 = 0
    ended = False
    for i in range(300):
        try:
            code, _ = d.cmd("AUTH LOGIN")
            while code == 334:
                n334 += 1
                code, _ = d.cmd(base64.b64encode(b"u%d" % i).decode())
            if code == 421:
                ended = True
                break
        except (EOFError, ConnectionResetError, ssl.SSLError, BrokenPipeError):
            ended = True
            break
    assert ended, "300 failed AUTH exchanges without the session ending"
    assert n334 <= 2 * 300
    d.close()
    assert_serves(smtpd)


# ---- 10. 500 clients stalling mid-TLS-handshake --------------------------
def test_500_clients_stalling_mid_tls_handshake(mailroom, monkeypatch):
    m = start_smtpd(mailroom, monkeypatch, max_per_ip=2000, max_sessions=4000,
                    tls_timeout_ms=600000)
    socks = []
    # A TLS 1.2 ClientHello record header promising 512 bytes, then only 5 of them.
    partial = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03])
    for port in ("smtps", "submission"):
        for i in range(250):
            s = socket.create_connection(("127.0.0.1", m.ports[port]), timeout=30)
            if port == "submission":
                f = s.makefile("rb")
                f.readline()
                s.sendall(b"EHLO x\r\nSTARTTLS\r\n")
                while not f.readline().startswith(b"220 "):
                    pass
            s.sendall(partial)
            socks.append(s)
    try:
        t0 = time.monotonic()
        import smtplib
        with smtplib.SMTP_SSL("127.0.0.1", m.ports["smtps"], context=tls_client_ctx(),
                              timeout=30) as c:
            c.login(ALICE, USERS[ALICE])
            c.sendmail(ALICE, [BOB], b"Subject: through the stall\r\n\r\nok\r\n")
        assert time.monotonic() - t0 < 30
        assert_serves(m, "stall")
    finally:
        for s in socks:
            s.close()
    assert len(mailbox(m, BOB)) == 1
