"""CHUNKING / BDAT (RFC 3030) against the real smtpd, as hard as DATA: the
chunk octets are stored as sent (no dot-unstuffing), every refused BDAT still
has its chunk read and thrown away (never executed as commands), a BDAT whose
size cannot be read closes the session, the same line rules as DATA (bare
LF/CR refused, nothing stored), the size cap, DATA/BDAT mixing refused, the
TLS/AUTH gate on submission, a large message in chunks in bounded memory."""
import socket

import pytest

from smtp_util import Dialog, counts, mailbox, smtpd, start_smtpd, under_asan  # noqa: F401


def txn(d, rcpt="alice@example.test"):
    code, lines = d.cmd("EHLO c.remote.test")
    assert code == 250 and "CHUNKING" in lines
    d.expect("MAIL FROM:<a@remote.test>", 250)
    d.expect(f"RCPT TO:<{rcpt}>", 250)


def no_more_replies(d, wait=0.5):
    d.sock.settimeout(wait)
    try:
        extra = d.sock.recv(100)
    except (socket.timeout, TimeoutError):
        extra = None
    d.sock.settimeout(10)
    return extra is None


def test_bdat_chunks_stored_as_sent(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    txn(d)
    part1 = b"Subject: chunks\r\n\r\n..two dots\r\n.\r\n"
    part2 = b"last line\r\n"
    d.send(b"BDAT %d\r\n" % len(part1) + part1)
    d.expect(None, 250, "2.0.0")
    d.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    d.expect(None, 250, "2.0.0")
    got = mailbox(smtpd, "alice@example.test")
    assert len(got) == 1 and got[0].endswith(part1 + part2)
    d.expect("QUIT", 221)


def test_bdat_pipelined(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO c", 250)
    body = b"Subject: p\r\n\r\nhello\r\n"
    d.send(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           b"BDAT 5\r\n" + body[:5] + b"BDAT %d LAST\r\n" % (len(body) - 5) + body[5:] +
           b"NOOP\r\n")
    assert [d.reply()[0] for _ in range(5)] == [250, 250, 250, 250, 250]
    assert mailbox(smtpd, "alice@example.test")[0].endswith(body)


SMUGGLE = b"MAIL FROM:<ceo@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"


@pytest.mark.parametrize("setup,want", [
    ([], 503),                                   # before EHLO
    (["EHLO c"], 503),                           # before MAIL
    (["EHLO c", "MAIL FROM:<a@remote.test>"], 554),  # no recipient
])
def test_refused_bdat_chunk_is_never_executed(smtpd, setup, want):
    d = Dialog(smtpd.ports["smtp"])
    for line in setup:
        assert d.cmd(line)[0] == 250
    d.send(b"BDAT %d LAST\r\n" % len(SMUGGLE) + SMUGGLE)
    code, _ = d.reply()
    assert code == want
    assert no_more_replies(d)  # the chunk's "commands" got no answers
    d.expect("NOOP", 250)
    assert counts(smtpd)["mailbox"] == 0


def test_bdat_unreadable_size_closes(smtpd):
    for bad in (b"BDAT\r\n", b"BDAT x\r\n", b"BDAT -5\r\n", b"BDAT 5 NOTLAST\r\n",
                b"BDAT 99999999999999999999\r\n", b"BDAT 5\x00\r\n"):
        d = Dialog(smtpd.ports["smtp"])
        d.expect("EHLO c", 250)
        d.send(bad + SMUGGLE)
        code, _ = d.reply()
        assert code in (421, 501), (bad, code)
        assert d.closed(), bad


def test_bdat_bare_lf_and_cr_refused(smtpd):
    for chunk in (b"Subject: x\n\nbody\n", b"Subject: x\r\n\r\nbo\rdy\r\n", b"end in CR\r"):
        d = Dialog(smtpd.ports["smtp"])
        txn(d)
        d.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        d.expect(None, 554, "5.6.0")
        d.expect("NOOP", 250)
    assert counts(smtpd)["mailbox"] == 0


def test_bdat_missing_final_crlf_is_added(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    txn(d)
    chunk = b"Subject: x\r\n\r\nno final line end"
    d.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    d.expect(None, 250)
    assert mailbox(smtpd, "alice@example.test")[0].endswith(chunk + b"\r\n")


def test_bdat_oversize_and_following_chunks(mailroom, monkeypatch):
    m = mailroom
    m.extra["smtp"] = {"message_size_limit": "10000"}
    m.write_config()
    start_smtpd(m, monkeypatch)
    d = Dialog(m.ports["smtp"])
    txn(d)
    big = (b"x" * 98 + b"\r\n") * 60  # 6000 octets per chunk
    d.send(b"BDAT %d\r\n" % len(big) + big)
    d.expect(None, 250)
    d.send(b"BDAT %d\r\n" % len(big) + big)
    d.expect(None, 552, "5.3.4")
    d.send(b"BDAT %d LAST\r\n" % len(big) + big)  # the transaction is over
    d.expect(None, 503)
    d.expect("NOOP", 250)
    assert counts(m)["mailbox"] == 0


def test_data_and_bdat_do_not_mix(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    txn(d)
    d.send(b"BDAT 4\r\nab\r\n")
    d.expect(None, 250)
    d.expect("DATA", 503, "5.5.1")
    d.expect("MAIL FROM:<b@remote.test>", 503)
    d.expect("RSET", 250)
    d.expect("MAIL FROM:<b@remote.test>", 250)
    assert counts(smtpd)["mailbox"] == 0


def test_bdat_gate_on_submission(smtpd):
    d = Dialog(smtpd.ports["submission"])
    d.expect("EHLO c", 250)
    d.send(b"BDAT %d LAST\r\n" % len(SMUGGLE) + SMUGGLE)
    code, _ = d.reply()
    assert code in (503, 530)
    assert no_more_replies(d)
    d.starttls()
    d.expect("EHLO c", 250)
    d.send(b"BDAT %d LAST\r\n" % len(SMUGGLE) + SMUGGLE)
    assert d.reply()[0] in (503, 530)
    assert no_more_replies(d)


def test_bdat_large_message_bounded_memory(smtpd):
    from test_smtp_defences import vm_kb
    pid = smtpd.pid("smtpd")
    if under_asan(pid):
        pytest.skip("AddressSanitizer's quarantine makes VmHWM meaningless")
    d = Dialog(smtpd.ports["smtp"])
    txn(d)
    before = vm_kb(pid, "VmHWM")
    chunk = (b"0123456789" * 9 + b"\r\n") * 20000  # 1.84 MB
    head = b"Subject: big\r\n\r\n"
    for i in range(10):
        last = b" LAST" if i == 9 else b""
        data = head + chunk if i == 0 else chunk
        d.send(b"BDAT %d%s\r\n" % (len(data), last) + data)
        d.sock.settimeout(60)
        d.expect(None, 250)
    assert vm_kb(pid, "VmHWM") - before < 8 * 1024
    with __import__("smtp_util").db(smtpd) as c:
        assert c.execute("SELECT size FROM mailbox").fetchone()[0] > 10 * len(chunk)
