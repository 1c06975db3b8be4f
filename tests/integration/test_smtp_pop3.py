"""End to end: mail accepted by smtpd is what pop3d hands out - the exact
bytes the client sent (dot-stuffing undone, CRLF), after the Return-Path and
Received lines smtpd adds, for every local recipient of one message."""
import poplib
import smtplib

from smtp_util import USERS, mailbox, smtpd, tls_client_ctx  # noqa: F401


def test_smtp_in_pop3_out(smtpd):
    smtpd.start("pop3d")
    body = (b"From: Friend <a@remote.test>\r\nTo: alice@example.test\r\nSubject: round trip\r\n"
            b"\r\nline one\r\n.starts with a dot\r\n\r\nlast line\r\n")
    with smtplib.SMTP("127.0.0.1", smtpd.ports["smtp"]) as s:
        s.ehlo("c.remote.test")
        s.sendmail("a@remote.test", ["alice@example.test", "bob@example.test"], body)
    for user in ("alice@example.test", "bob@example.test"):
        p = poplib.POP3("127.0.0.1", smtpd.ports["pop3"], timeout=10)
        try:
            p.user(user)
            p.pass_(USERS[user])
            count, _ = p.stat()
            assert count == 1
            resp, lines, octets = p.retr(1)
            got = b"\r\n".join(lines) + b"\r\n"
            assert got.startswith(b"Return-Path: <a@remote.test>\r\nReceived: from c.remote.test")
            assert got.endswith(body)
            assert got == mailbox(smtpd, user)[0]
        finally:
            p.quit()
