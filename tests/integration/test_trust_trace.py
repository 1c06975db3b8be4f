"""The message trace (table message_trace) as smtpd writes it: real SMTP
clients to the real mailroom-smtpd with DNS from a loopback dnsmasq, the
rows read back from the store. Every message offered on the MX port that
reaches a trust verdict gets one row with the reply it was given: a DMARC
p=reject refusal (550 5.7.1), a signed message accepted (dkim=pass, 250
with its queue id), greylisted recipients (451 4.7.1), a client on a
blocklist (554 at connect), spam tagged. Mail from an authenticated user on
submission is not traced. Rows reach the store within about a second (a
background writer), a stopping smtpd writes what it holds, and rows older
than 30 days are pruned."""
import re
import smtplib
import socket
import sqlite3
import time

import pytest
import smtp_util
from smtp_util import USERS, Dialog, start_smtpd, tls_client_ctx
from test_smtp_trust import (dns_records, message, pop_all, rsa,  # noqa: F401 (fixture)
                             send, set_settings, sign)

COLS = ("id, at, session, client_ip, helo, sender, rcpts, message_id, outcome, reply,"
        " spf, dkim, dmarc, dnsbl, spam_score, details")


def rows(m):
    with sqlite3.connect(m.db_path, timeout=10) as c:
        c.row_factory = sqlite3.Row
        return [dict(r) for r in c.execute(f"SELECT {COLS} FROM message_trace ORDER BY id")]


def wait_rows(m, n, timeout=6.0):
    """The rows once there are at least n (the writer flushes every second)."""
    deadline = time.monotonic() + timeout
    while True:
        got = rows(m)
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


@pytest.fixture
def traced(mailroom, monkeypatch, rsa):  # noqa: F811
    mailroom.start_dns(*dns_records(rsa[1]))
    start_smtpd(mailroom, monkeypatch)
    mailroom.start("pop3d")
    return mailroom


def test_dmarc_reject_row_refused_550(traced):
    with smtplib.SMTP("127.0.0.1", traced.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("x@strict.test", ["bob@example.test"], message("X <x@strict.test>"))
        assert e.value.smtp_code == 550
    got = wait_rows(traced, 1)
    assert len(got) == 1, got
    r = got[0]
    assert r["outcome"] == "refused"
    assert r["reply"].startswith("550 5.7.1 ") and "DMARC policy of strict.test" in r["reply"]
    assert r["reply"] == "550 " + e.value.smtp_error.decode()
    assert r["dmarc"].startswith("fail p=reject")
    assert r["spf"] == "fail mailfrom=strict.test"
    assert r["sender"] == "x@strict.test" and r["rcpts"] == "bob@example.test"
    assert r["helo"] == "mx.sender.test" and r["client_ip"] == "127.0.0.1"
    assert r["message_id"] == "<1@x.test>"
    assert abs(r["at"] - time.time()) < 60
    assert re.search(r"\bsession=%s\b" % re.escape(r["session"]), traced.log("smtpd"))
    assert pop_all(traced) == []


def test_signed_mail_accepted_row_dkim_pass(traced, rsa):  # noqa: F811
    good = sign(message("Carol <carol@signer.test>", "signed"), rsa[0])
    with smtplib.SMTP("127.0.0.1", traced.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        s.mail("carol@signer.test")
        s.rcpt("bob@example.test")
        s.rcpt("alice@example.test")
        code, text = s.data(good)
    assert code == 250
    got = wait_rows(traced, 1)
    assert len(got) == 1, got
    r = got[0]
    assert r["outcome"] == "accepted"
    assert r["dkim"] == "pass d=signer.test"
    assert r["dmarc"].startswith("none ") or r["dmarc"] == ""  # no DMARC record
    assert r["spf"].startswith("neutral ")  # ?all
    assert r["reply"] == "250 " + text.decode()
    queue_id = text.decode().rsplit(" ", 1)[1]
    assert "queue_id=" + queue_id in r["details"]
    assert r["rcpts"] == "bob@example.test,alice@example.test"
    assert r["spam_score"] < 50
    assert len(pop_all(traced)) == 1


def test_greylisted_row_then_accepted(mailroom, monkeypatch, rsa):  # noqa: F811
    mailroom.start_dns(*dns_records(rsa[1]))
    set_settings(mailroom, greylist_domains="example.test", greylist_delay=1)
    start_smtpd(mailroom, monkeypatch)
    msg = message("A <a@good.test>", "grey")
    with smtplib.SMTP("127.0.0.1", mailroom.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        assert s.mail("a@good.test")[0] == 250
        code, text = s.rcpt("bob@example.test")
        assert code == 451
    got = wait_rows(mailroom, 1)
    assert len(got) == 1, got
    r = got[0]
    assert r["outcome"] == "greylisted"
    assert r["reply"] == "451 " + text.decode()
    assert r["rcpts"] == "bob@example.test" and r["sender"] == "a@good.test"
    assert r["spf"] == "pass mailfrom=good.test"
    time.sleep(1.5)
    send(mailroom, "a@good.test", msg)
    got = wait_rows(mailroom, 2)
    assert [x["outcome"] for x in got] == ["greylisted", "accepted"]
    assert got[1]["reply"].startswith("250 2.0.0 Ok: queued as ")


def test_greylisted_row_waits_for_spf_after_the_client_left(mailroom, monkeypatch, rsa):  # noqa: F811,E501
    """MAIL, RCPT and QUIT in one packet: the session is over before any DNS
    answer can be read, and the greylisted row still carries the SPF result
    (the check goes on without the connection and queues the row)."""
    mailroom.start_dns(*dns_records(rsa[1]))
    set_settings(mailroom, greylist_domains="example.test", greylist_delay=60)
    start_smtpd(mailroom, monkeypatch)
    with socket.create_connection(("127.0.0.1", mailroom.ports["smtp"]), timeout=20) as c:
        f = c.makefile("rb")
        assert f.readline().startswith(b"220")
        c.sendall(b"EHLO mx.sender.test\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        c.sendall(b"MAIL FROM:<a@good.test>\r\nRCPT TO:<bob@example.test>\r\nQUIT\r\n")
        replies = [f.readline() for _ in range(3)]
    assert replies[0].startswith(b"250") and replies[1].startswith(b"451 4.7.1")
    assert replies[2].startswith(b"221")
    got = wait_rows(mailroom, 1)
    assert len(got) == 1, got
    r = got[0]
    assert r["outcome"] == "greylisted" and r["rcpts"] == "bob@example.test"
    assert r["spf"] == "pass mailfrom=good.test"
    assert r["reply"] == "451 " + replies[1].decode().strip()[4:]


def test_some_recipients_greylisted_noted_in_the_message_row(mailroom, monkeypatch, rsa):  # noqa: F811,E501
    mailroom.start_dns(*dns_records(rsa[1]))
    set_settings(mailroom, greylist_domains="example.test", greylist_delay=60)
    mailroom.ctl("domain", "add", "other.test")
    start_smtpd(mailroom, monkeypatch, users={**USERS, "carl@other.test": "pw-carl-1"})
    with smtplib.SMTP("127.0.0.1", mailroom.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        refused = s.sendmail("a@good.test", ["bob@example.test", "carl@other.test"],
                             message("A <a@good.test>", "half"))
        assert list(refused) == ["bob@example.test"]
    got = wait_rows(mailroom, 1)
    time.sleep(1.2)  # and no second row comes
    got = rows(mailroom)
    assert len(got) == 1, got
    assert got[0]["outcome"] == "accepted" and got[0]["rcpts"] == "carl@other.test"
    assert "greylisted=bob@example.test" in got[0]["details"]


def test_dnsbl_listed_client_row(mailroom, monkeypatch, rsa):  # noqa: F811
    mailroom.start_dns(*dns_records(rsa[1]), "--address=/1.0.0.127.bl.test/127.0.0.2")
    set_settings(mailroom, dnsbl_zones="bl.test")
    start_smtpd(mailroom, monkeypatch)
    # The harness's port probe on the MX port is a listed client too and
    # may get a row of its own: count what is there once the probes are
    # gone and their rows written, then expect exactly one more.
    deadline = time.monotonic() + 10
    while not smtp_util.probes_gone(mailroom) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # the trace writer flushes once a second
    before = len(rows(mailroom))
    assert all(r["outcome"] == "refused" for r in rows(mailroom))
    d = Dialog(mailroom.ports["smtp"])
    assert d.greeting[0] == 554
    got = wait_rows(mailroom, before + 1)
    assert len(got) == before + 1, got
    r = got[-1]
    assert r["outcome"] == "refused" and r["reply"].startswith("554 5.7.1 ")
    assert "bl.test" in r["reply"]
    assert r["dnsbl"] == "listed bl.test 127.0.0.2"
    assert r["sender"] == "" and r["rcpts"] == ""


def test_spam_tagged_row_and_submission_not_traced(mailroom, monkeypatch, rsa):  # noqa: F811
    mailroom.start_dns(*dns_records(rsa[1]))
    set_settings(mailroom, spam_threshold="2", spam_subject_tag="[SPAM]")
    start_smtpd(mailroom, monkeypatch)
    send(mailroom, "b@bad.test", message("B <b@bad.test>", "cheap pills"))  # SPF fail
    with smtplib.SMTP("127.0.0.1", mailroom.ports["submission"], timeout=20) as s:
        s.ehlo("laptop")
        s.starttls(context=tls_client_ctx())
        s.ehlo("laptop")
        s.login("alice@example.test", USERS["alice@example.test"])
        s.sendmail("alice@example.test", ["bob@example.test"], message("alice@example.test"))
    got = wait_rows(mailroom, 1)
    time.sleep(1.2)
    got = rows(mailroom)
    assert len(got) == 1, got  # the submission message has none
    r = got[0]
    assert r["outcome"] == "tagged" and r["spam_score"] >= 20
    assert "SPF_FAIL" in r["details"] and r["spf"] == "fail mailfrom=bad.test"


def test_stopping_writes_queued_rows_and_old_rows_pruned(mailroom, monkeypatch, rsa):  # noqa: F811,E501
    mailroom.start_dns(*dns_records(rsa[1]))
    old = int(time.time()) - 31 * 86400
    with sqlite3.connect(mailroom.db_path, timeout=10) as c:
        c.execute("INSERT INTO message_trace (at, outcome) VALUES (?, 'accepted')", (old,))
        c.execute("INSERT INTO message_trace (at, outcome) VALUES (?, 'accepted')",
                  (old + 2 * 86400,))  # 29 days: kept
    start_smtpd(mailroom, monkeypatch)
    mailroom.wait_log("smtpd", "event=trace-pruned rows=1")
    assert [r["at"] for r in rows(mailroom)] == [old + 2 * 86400]
    send(mailroom, "a@good.test", message("A <a@good.test>", "last"))
    mailroom.stop("smtpd")  # at once: the row may still be queued
    got = rows(mailroom)
    assert len(got) == 2 and got[1]["outcome"] == "accepted"
    assert "event=trace-stopped queued=1 written=1 dropped=0" in mailroom.log("smtpd")


def test_quarantine_and_forged_own_domain_rows(mailroom, monkeypatch, rsa):  # noqa: F811
    mailroom.start_dns(*dns_records(rsa[1]),
                       "--txt-record=quar.test,v=spf1 ip4:192.0.2.1 -all",
                       "--txt-record=_dmarc.quar.test,v=DMARC1; p=quarantine")
    start_smtpd(mailroom, monkeypatch)
    send(mailroom, "q@quar.test", message("Q <q@quar.test>", "quarantined"))
    with smtplib.SMTP("127.0.0.1", mailroom.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("a@good.test", ["bob@example.test"],
                       message("Boss <boss@example.test>", "wire money"))
    got = wait_rows(mailroom, 2)
    assert [r["outcome"] for r in got] == ["quarantined", "refused"], got
    q, f = got
    assert q["dmarc"] == "fail p=quarantine from=quar.test"
    assert q["reply"].startswith("250 2.0.0 Ok: queued as ")
    assert "DMARC_QUARANTINE" in q["details"] and q["spam_score"] >= 50
    assert f["reply"] == "550 " + e.value.smtp_error.decode()
    assert "claims to come from example.test" in f["reply"]
    assert f["sender"] == "a@good.test" and f["spf"] == "pass mailfrom=good.test"
