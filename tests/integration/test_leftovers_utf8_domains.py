"""U-label (UTF-8) domains in MAIL FROM / RCPT TO under SMTPUTF8 (RFC 6531
3.2): smtpd turns the domain into its A-label, so user@bücher.example
reaches the local domain xn--bcher-kva.example and a remote Unicode domain
is queued under its A-label; without SMTPUTF8 on MAIL a non-ASCII address
gets 553 5.6.7 (RFC 6531 3.7.4.1), in MAIL and in RCPT."""
import smtplib

import pytest

from smtp_util import Dialog, db, mailbox, start_smtpd, submission

LOCAL_IDN = "xn--bcher-kva.example"  # bücher.example
HANS = f"hans@{LOCAL_IDN}"
ALICE = "alice@example.test"


@pytest.fixture
def smtpd(mailroom, monkeypatch):
    m = mailroom
    m.ctl("domain", "add", LOCAL_IDN)
    m.add_user(HANS, "hans-pw-1")
    return start_smtpd(m, monkeypatch)


def queued(m):
    with db(m) as c:
        return c.execute("SELECT sender, recipient FROM queue ORDER BY id").fetchall()


def test_ulabel_rcpt_reaches_the_local_a_label_domain(smtpd):
    m = smtpd
    msg = "From: <friend@remote.test>\r\nSubject: b\u00fccher\r\n\r\nHallo Hans.\r\n"
    with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=10) as s:
        s.ehlo("client.remote.test")
        refused = s.sendmail("friend@remote.test", ["hans@b\u00fccher.example",
                                                    "Hans@B\u00dcCHER.example"],
                             msg.encode(), mail_options=["SMTPUTF8"])
    assert refused == {}
    got = mailbox(m, HANS)
    assert len(got) == 1 and b"Hallo Hans." in got[0]  # both names: one mailbox, once
    assert queued(m) == []


def test_ulabel_sender_and_unknown_local_user(smtpd):
    m = smtpd
    d = Dialog(m.ports["smtp"])
    d.expect("EHLO client.remote.test", 250)
    d.expect("MAIL FROM:<j\u00f6rg@m\u00fcnchen.example> SMTPUTF8", 250)
    d.expect("RCPT TO:<nobody@b\u00fccher.example>", 550)  # a local domain: no such user
    d.expect("RCPT TO:<hans@b\u00fccher.example>", 250)
    d.expect("DATA", 354)
    d.send(b"Subject: x\r\n\r\nfrom munich\r\n.\r\n")
    d.expect(None, 250)
    d.expect("QUIT", 221)
    got = mailbox(m, HANS)
    assert len(got) == 1
    # the envelope sender as stored: UTF-8 local part, A-label domain
    assert "Return-Path: <j\u00f6rg@xn--mnchen-3ya.example>".encode() in got[0]


def test_remote_ulabel_domain_is_queued_under_its_a_label(smtpd):
    m = smtpd
    with submission(m, ALICE) as s:
        refused = s.sendmail(ALICE, ["friend@b\u00fcro.example"],
                             b"Subject: idn\r\n\r\nhello\r\n", mail_options=["SMTPUTF8"])
    assert refused == {}
    assert queued(m) == [(ALICE, "friend@xn--bro-hoa.example")]


def test_without_smtputf8_non_ascii_gets_553_5_6_7(smtpd):
    m = smtpd
    d = Dialog(m.ports["smtp"])
    d.expect("EHLO client.remote.test", 250)
    d.expect("MAIL FROM:<friend@m\u00fcnchen.example>", 553, "5.6.7")
    d.expect("MAIL FROM:<friend@remote.test>", 250)
    d.expect("RCPT TO:<hans@b\u00fccher.example>", 553, "5.6.7")
    d.expect(f"RCPT TO:<h\u00e4ns@{LOCAL_IDN}>", 553, "5.6.7")
    d.expect(f"RCPT TO:<{HANS}>", 250)  # the A-label needs no SMTPUTF8
    d.expect("RSET", 250)
    # SMTPUTF8 on MAIL, but a Unicode domain that is no valid IDN
    d.expect("MAIL FROM:<friend@remote.test> SMTPUTF8", 250)
    d.expect("RCPT TO:<hans@b\u00fc_cher.example>", 501, "5.1.3")
    d.expect("RCPT TO:<hans@b\u00fccher>", 501, "5.1.3")
    d.expect("QUIT", 221)
    assert mailbox(m, HANS) == [] and queued(m) == []


def test_smtplib_without_smtputf8_is_refused(smtpd):
    m = smtpd
    with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=10) as s:
        s.ehlo("client.remote.test")
        # smtplib sends non-ASCII addresses as UTF-8 only with SMTPUTF8;
        # send the command ourselves so the bytes go out as they are.
        code, text = s.docmd("MAIL", "FROM:<friend@remote.test>")
        assert code == 250
        s.send("RCPT TO:<hans@b\u00fccher.example>\r\n".encode())
        code, text = s.getreply()
        assert code == 553 and text.startswith(b"5.6.7"), (code, text)
