"""smtpd basics with real clients: every command and its reply code with
enhanced status codes, EHLO extensions per port, delivery into the store
(body once, one entry per local recipient, Received/Return-Path), aliases,
unknown users, and the transaction state machine."""
import smtplib

import pytest

from smtp_util import Dialog, counts, mailbox, queue, smtpd  # noqa: F401

MSG = b"From: a@remote.test\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nHello\r\n"


def test_greeting_and_ehlo_on_mx(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    assert d.greeting[0] == 220 and "mail.example.test" in d.greeting[1][0]
    code, lines = d.cmd("EHLO client.remote.test")
    assert code == 250
    exts = [l.split()[0] for l in lines[1:]]
    for e in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
              "STARTTLS"):
        assert e in exts, lines
    assert "AUTH" not in exts  # never on the MX port
    d.expect("QUIT", 221, "2.0.0")
    assert d.closed()


def test_helo_and_plain_delivery(smtpd):
    with smtplib.SMTP("127.0.0.1", smtpd.ports["smtp"]) as s:
        assert s.helo("client.remote.test")[0] == 250
        s.sendmail("a@remote.test", ["alice@example.test"], MSG)
    got = mailbox(smtpd, "alice@example.test")
    assert len(got) == 1
    assert got[0].endswith(MSG)
    head = got[0][: len(got[0]) - len(MSG)].decode()
    assert head.startswith("Return-Path: <a@remote.test>\r\n")
    assert "Received: from client.remote.test ([127.0.0.1])" in head
    assert "by mail.example.test (Mailroom) with SMTP" in head


def test_every_command_reply(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    d.expect("MAIL FROM:<a@remote.test>", 503, "5.5.1")  # before EHLO
    d.expect("EHLO c.remote.test", 250)
    d.expect("NOOP", 250, "2.0.0")
    d.expect("VRFY alice", 252, "2.5.0")
    d.expect("VRFY nobody", 252, "2.5.0")  # never tells
    d.expect("EXPN staff", 502, "5.5.1")
    d.expect("HELP", 214, "2.0.0")
    d.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
    d.expect("DATA", 503, "5.5.1")
    d.expect("FOO bar", 500, "5.5.2")
    d.expect("MAIL FROM:<a@remote.test>", 250, "2.1.0")
    d.expect("MAIL FROM:<a@remote.test>", 503, "5.5.1")  # nested
    d.expect("DATA", 554, "5.5.1")  # no recipient yet
    d.expect("RCPT TO:<nobody@example.test>", 550, "5.1.1")
    d.expect("RCPT TO:<alice@example.test>", 250, "2.1.5")
    d.expect("RSET", 250, "2.0.0")
    d.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")  # RSET ended it
    d.expect("MAIL FROM:<>", 250, "2.1.0")  # null sender (bounces)
    d.expect("RCPT TO:<alice@example.test>", 250, "2.1.5")
    d.expect("DATA x", 501, "5.5.4")
    d.expect("DATA", 354)
    d.send(b"Subject: t\r\n\r\nbody\r\n.\r\n")
    d.expect(None, 250, "2.0.0")
    d.expect("QUIT", 221, "2.0.0")
    assert mailbox(smtpd, "alice@example.test")[0].startswith(b"Return-Path: <>\r\n")


def test_syntax_errors(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO", 501, "5.5.4")
    d.expect("HELO", 501, "5.5.4")
    d.expect("EHLO c.remote.test", 250)
    d.expect("MAIL FROM:a@remote.test", 501, "5.5.4")  # no brackets
    d.expect("MAIL TO:<a@remote.test>", 501, "5.5.4")
    d.expect("MAIL FROM:<a@remote.test> FOO=1", 555, "5.5.4")
    d.expect("MAIL FROM:<a@remote.test> SIZE=abc", 501, "5.5.4")
    d.expect("MAIL FROM:<a@remote.test> BODY=BINARYMIME", 555, "5.5.4")
    d.expect("MAIL FROM:<not an address>", 553, "5.1.7")
    d.expect("MAIL FROM:<a@remote.test> BODY=8BITMIME SIZE=100", 250, "2.1.0")
    d.expect("RCPT TO:<alice@example.test> NOTIFY=NEVER", 555, "5.5.4")
    d.expect("RCPT TO:<bad address@example.test>", 501, "5.1.3")
    d.expect("RCPT TO:<>", 501, "5.1.3")
    d.expect("RCPT TO:<alice@example.test>", 250)
    d.expect("QUIT", 221)


def test_command_line_too_long(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO c.remote.test", 250)
    d.expect("NOOP " + "x" * 507, 500, "5.5.6")  # 514 octets with CRLF
    d.expect("NOOP " + "x" * 505, 250)  # 512: the limit itself is fine
    d.expect("NOOP " + "x" * 100000, 500, "5.5.6")
    d.expect("NOOP", 250)  # still serving


def test_too_many_errors_421(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    for i in range(19):
        d.expect(f"BOGUS{i}", 500)
    d.expect("BOGUS", 500)  # the 20th error is answered, then 421
    d.expect(None, 421, "4.7.0")
    assert d.closed()


def test_multiple_recipients_body_once_and_alias(smtpd):
    smtpd.ctl("alias", "add", "staff@example.test", "alice@example.test")
    smtpd.ctl("alias", "add", "staff@example.test", "bob@example.test")
    with smtplib.SMTP("127.0.0.1", smtpd.ports["smtp"]) as s:
        s.ehlo("c.remote.test")
        refused = s.sendmail("a@remote.test",
                             ["staff@example.test", "alice@example.test"], MSG)
        assert refused == {}
    assert len(mailbox(smtpd, "alice@example.test")) == 1  # deduplicated
    assert len(mailbox(smtpd, "bob@example.test")) == 1
    assert counts(smtpd)["bodies"] == 1


def test_unknown_local_user_550(smtpd):
    with smtplib.SMTP("127.0.0.1", smtpd.ports["smtp"]) as s:
        s.ehlo("c.remote.test")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("a@remote.test", ["ghost@example.test"], MSG)
        code, text = e.value.recipients["ghost@example.test"]
        assert code == 550 and text.startswith(b"5.1.1")
    assert counts(smtpd)["mailbox"] == 0


def test_catch_all(smtpd):
    smtpd.ctl("alias", "add", "@example.test", "bob@example.test")
    with smtplib.SMTP("127.0.0.1", smtpd.ports["smtp"]) as s:
        s.ehlo("c.remote.test")
        s.sendmail("a@remote.test", ["anything@example.test"], MSG)
    assert len(mailbox(smtpd, "bob@example.test")) == 1


def test_postmaster_without_domain(smtpd):
    smtpd.ctl("alias", "add", "postmaster@example.test", "alice@example.test")
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO c.remote.test", 250)
    d.expect("MAIL FROM:<>", 250)
    d.expect("RCPT TO:<Postmaster>", 250, "2.1.5")
    d.expect("QUIT", 221)


def test_too_many_recipients_452(mailroom, monkeypatch):
    from smtp_util import start_smtpd
    m = mailroom
    m.extra["smtp"] = {"max_recipients": "3"}
    m.write_config()
    start_smtpd(m, monkeypatch)
    d = Dialog(m.ports["smtp"])
    d.expect("EHLO c.remote.test", 250)
    d.expect("MAIL FROM:<a@remote.test>", 250)
    for _ in range(3):
        d.expect("RCPT TO:<alice@example.test>", 250)
    d.expect("RCPT TO:<bob@example.test>", 452, "4.5.3")
    d.expect("QUIT", 221)


def test_quota_full_452(smtpd):
    smtpd.ctl("user", "add", "carol@example.test", "--quota", "100", input="carol-pw-3\n",
              check=False)
    r = smtpd.ctl("user", "list", check=False)
    if "carol@example.test" not in r.stdout:
        pytest.skip("mailroomctl has no --quota")
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO c.remote.test", 250)
    d.expect("MAIL FROM:<a@remote.test> SIZE=5000", 250)
    d.expect("RCPT TO:<carol@example.test>", 452, "4.2.2")
    d.expect("QUIT", 221)


def test_smtputf8(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO c.remote.test", 250)
    d.expect("MAIL FROM:<jörg@remote.test>", 553, "5.6.7")
    d.expect("MAIL FROM:<jörg@remote.test> SMTPUTF8", 250)
    d.expect("RCPT TO:<alice@example.test>", 250)
    d.expect("DATA", 354)
    d.send("Subject: grüße\r\n\r\nÜ\r\n.\r\n".encode())
    d.expect(None, 250)
    got = mailbox(smtpd, "alice@example.test")[0]
    assert b"with UTF8SMTP" in got and "grüße".encode() in got


def test_pipelining(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO c.remote.test", 250)
    d.send("MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           "RCPT TO:<ghost@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    assert [d.reply()[0] for _ in range(5)] == [250, 250, 550, 250, 354]
    d.send("Subject: p\r\n\r\n.\r\n" "MAIL FROM:<b@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
           "DATA\r\n")
    assert [d.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    d.send(".\r\nQUIT\r\n")
    assert [d.reply()[0] for _ in range(2)] == [250, 221]
    assert len(mailbox(smtpd, "alice@example.test")) == 1
    assert len(mailbox(smtpd, "bob@example.test")) == 2


def test_dot_stuffing_roundtrip(smtpd):
    body = b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\n".replace(b"\r\n.\r\n", b"\r\n")
    # smtplib stuffs the dots; the store must hold the original lines
    with smtplib.SMTP("127.0.0.1", smtpd.ports["smtp"]) as s:
        s.ehlo("c.remote.test")
        s.sendmail("a@remote.test", ["alice@example.test"], body)
    got = mailbox(smtpd, "alice@example.test")[0]
    assert got.endswith(b"\r\n.leading dot\r\n..two\r\n")


def test_empty_message(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    d.open_data("c.remote.test", "a@remote.test", "alice@example.test")
    d.send(".\r\n")
    d.expect(None, 250)
    got = mailbox(smtpd, "alice@example.test")[0]
    assert got.startswith(b"Return-Path:") and got.endswith(b"\r\n")


def test_sighup_rereads_config(smtpd):
    import signal
    from smtp_util import wait_for
    d = Dialog(smtpd.ports["smtp"])
    assert "SIZE 26214400" in d.cmd("EHLO c")[1]
    smtpd.extra["smtp"] = {"message_size_limit": "5000", "max_recipients": "2"}
    smtpd.write_config()
    smtpd.procs["smtpd"].send_signal(signal.SIGHUP)
    assert wait_for(lambda: "event=config-reloaded" in smtpd.log("smtpd"))
    assert "SIZE 26214400" in d.cmd("EHLO c")[1]  # a session keeps its limits
    e = Dialog(smtpd.ports["smtp"])
    assert "SIZE 5000" in e.cmd("EHLO c")[1]
    e.expect("MAIL FROM:<a@remote.test>", 250)
    e.expect("RCPT TO:<alice@example.test>", 250)
    e.expect("RCPT TO:<bob@example.test>", 250)
    e.expect("RCPT TO:<alice@example.test>", 452, "4.5.3")
    # a broken config is refused and the old one kept
    smtpd.cfg_path.write_text(smtpd.cfg_path.read_text() + "\nbogus = 1\n")
    smtpd.procs["smtpd"].send_signal(signal.SIGHUP)
    assert wait_for(lambda: "event=reload-failed" in smtpd.log("smtpd"))
    f = Dialog(smtpd.ports["smtp"])
    assert "SIZE 5000" in f.cmd("EHLO c")[1]


def _received(raw):
    """Our Received field (the first one), unfolded."""
    import email
    import email.policy
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return " ".join(msg.get_all("Received")[0].split())


def test_received_for_single_recipient(smtpd):
    """RFC 5321 4.4: 'for <rcpt>' when the message has one recipient."""
    with smtplib.SMTP("127.0.0.1", smtpd.ports["smtp"]) as s:
        s.ehlo("client.remote.test")
        s.sendmail("a@remote.test", ["alice@example.test"], MSG)
    rec = _received(mailbox(smtpd, "alice@example.test")[0])
    assert "for <alice@example.test>;" in rec, rec
    # Opt-info order: with, id, for, then ';' and the date
    assert rec.index(" with ESMTP") < rec.index(" id ") < rec.index(" for <")


def test_received_never_lists_several_recipients(smtpd):
    """Two recipients (one of them Bcc): neither copy names anyone."""
    with smtplib.SMTP("127.0.0.1", smtpd.ports["smtp"]) as s:
        s.ehlo("client.remote.test")
        s.sendmail("a@remote.test", ["alice@example.test", "bob@example.test"], MSG)
    for who in ("alice@example.test", "bob@example.test"):
        raw = mailbox(smtpd, who)[0]
        rec = _received(raw)
        assert " for " not in rec, rec
        assert b"bob@example.test" not in raw  # the Bcc one never shows
