"""The inbound trust checks on real SMTP connections: real clients
(smtplib, raw dialogues) to the real mailroom-smtpd, DNS from a loopback
dnsmasq, the stored messages read back through the real mailroom-pop3d
with poplib. SPF pass/fail and DKIM pass/fail show in the stored
Authentication-Results, DMARC p=reject failures and forged own-domain mail
are refused at the end of DATA with nothing stored (but the same From is
fine for an authenticated user on submission), a listed client gets 554 at
connect, greylisting defers an unknown triple and passes it after the
delay, and an arriving Authentication-Results claiming our hostname is
dropped."""
import base64
import os
import re
import poplib
import smtplib
import sqlite3
import subprocess
import time

import dkim
import pytest

from smtp_util import USERS, Dialog, counts, start_smtpd, tls_client_ctx

HOST = "mail.example.test"


def chunks(s, n=200):
    return [s[i:i + n] for i in range(0, len(s), n)]


@pytest.fixture(scope="module")
def rsa(tmp_path_factory):
    d = tmp_path_factory.mktemp("dkimkey")
    key = d / "rsa.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return key.read_bytes(), base64.b64encode(der).decode()


def txt(name, *strings):
    # dnsmasq splits the strings at commas and keeps quotes literally
    return "--txt-record=" + name + "," + ",".join(strings)


def dns_records(pub):
    return [
        txt("good.test", "v=spf1 ip4:127.0.0.1 -all"),
        txt("bad.test", "v=spf1 ip4:192.0.2.1 -all"),
        txt("strict.test", "v=spf1 ip4:192.0.2.1 -all"),
        txt("_dmarc.strict.test", "v=DMARC1; p=reject"),
        txt("signer.test", "v=spf1 ip4:192.0.2.1 ?all"),
        txt("sel._domainkey.signer.test", *chunks("v=DKIM1; k=rsa; p=" + pub)),
    ]


def set_settings(m, **kv):
    """No CLI verb or web page sets trust.* yet: written straight into the
    store's settings table before smtpd starts (test setup only; smtpd
    reads the table at start and once a minute)."""
    with sqlite3.connect(m.db_path, timeout=10) as c:
        for k, v in kv.items():
            c.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
                      ("trust." + k, str(v)))


@pytest.fixture
def trusted(mailroom, monkeypatch, rsa):
    mailroom.start_dns(*dns_records(rsa[1]))
    start_smtpd(mailroom, monkeypatch)
    mailroom.start("pop3d")
    return mailroom


def message(frm, subject="Figures", extra=b"", body=b"Hello Bob,\r\n\r\nsee you.\r\n"):
    return (f"From: {frm}\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
            "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@x.test>\r\n"
            ).encode() + extra + b"\r\n" + body


def sign(msg, key, domain=b"signer.test"):
    return dkim.sign(msg, b"sel", domain, key,
                     include_headers=[b"from", b"to", b"subject", b"date"]) + msg


def pop_all(m, user="bob@example.test"):
    """Every message in user's mailbox, as stored, via POP3."""
    p = poplib.POP3("127.0.0.1", m.ports["pop3"], timeout=10)
    try:
        p.user(user)
        p.pass_(USERS[user])
        n = len(p.list()[1])
        return [b"\r\n".join(p.retr(i)[1]) + b"\r\n" for i in range(1, n + 1)]
    finally:
        p.quit()


def head(msg):
    return msg.split(b"\r\n\r\n", 1)[0].decode()


def send(m, sender, msg, rcpt="bob@example.test"):
    with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        s.sendmail(sender, [rcpt], msg)


def test_spf_pass_and_fail_in_authentication_results(trusted):
    send(trusted, "a@good.test", message("A <a@good.test>", "pass"))
    send(trusted, "b@bad.test", message("B <b@bad.test>", "fail"))
    got = pop_all(trusted)
    assert len(got) == 2
    h1, h2 = head(got[0]), head(got[1])
    # ours sit right below our Return-Path and Received lines
    assert h1.startswith("Return-Path: <a@good.test>\r\nReceived: from mx.sender.test")
    assert "\r\nAuthentication-Results: " + HOST in h1
    assert h1.index("Authentication-Results:") > h1.index("Received: from mx.sender.test")
    assert h1.index("Authentication-Results:") < h1.index("From: A <a@good.test>")
    assert "spf=pass" in h1 and "smtp.mailfrom=a@good.test" in h1
    assert "spf=fail" in h2 and "spf=pass" not in h2
    assert "X-Spam-Score:" in h2
    assert got[0].endswith(b"\r\n\r\nHello Bob,\r\n\r\nsee you.\r\n")
    log = trusted.log("smtpd")
    assert "event=delivered" in log and "spf=fail" in log


def test_dkim_signed_passes_and_tampered_fails(trusted, rsa):
    key = rsa[0]
    good = sign(message("Carol <carol@signer.test>", "signed"), key)
    bad = sign(message("Carol <carol@signer.test>", "signed"), key).replace(
        b"see you.", b"see you!")
    send(trusted, "carol@signer.test", good)
    send(trusted, "carol@signer.test", bad)
    got = pop_all(trusted)
    assert len(got) == 2
    assert "dkim=pass" in head(got[0]) and "header.d=signer.test" in head(got[0])
    assert "dkim=fail" in head(got[1]) and "dkim=pass" not in head(got[1])
    assert b"see you!" in got[1]
    # both signatures were checked on smtpd's DKIM worker thread
    trusted.stop("smtpd")
    jobs = re.findall(r"event=dkim-worker-stopped jobs=(\d+)", trusted.log("smtpd"))
    assert jobs and int(jobs[0]) == 2, trusted.log("smtpd")[-2000:]


def test_dmarc_reject_with_spf_fail_refused_nothing_stored(trusted):
    before = counts(trusted)
    with smtplib.SMTP("127.0.0.1", trusted.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("x@strict.test", ["bob@example.test"],
                       message("X <x@strict.test>"))
        assert e.value.smtp_code == 550
        assert e.value.smtp_error.startswith(b"5.7.1")
        # the session goes on: the next message (SPF pass) is taken
        s.sendmail("a@good.test", ["bob@example.test"], message("a@good.test"))
    assert counts(trusted)["mailbox"] == before["mailbox"] + 1
    assert len(pop_all(trusted)) == 1
    assert "event=rejected-by-trust" in trusted.log("smtpd")


def test_forged_own_domain_refused_on_mx_allowed_after_auth(trusted):
    d = Dialog(trusted.ports["smtp"])
    d.open_data("mx.sender.test", "boss@example.test", "bob@example.test")
    d.send(message("The Boss <boss@example.test>", "wire money") + b".\r\n")
    code, text = d.reply()
    assert code == 550 and text[-1].startswith("5.7.1"), text
    d.expect("QUIT", 221)
    assert pop_all(trusted) == []
    with smtplib.SMTP("127.0.0.1", trusted.ports["submission"], timeout=20) as s:
        s.ehlo("laptop")
        s.starttls(context=tls_client_ctx())
        s.ehlo("laptop")
        s.login("alice@example.test", USERS["alice@example.test"])
        s.sendmail("alice@example.test", ["bob@example.test"],
                   message("Alice <alice@example.test>", "from the office"))
    got = pop_all(trusted)
    assert len(got) == 1 and b"from the office" in got[0]


def test_forged_authentication_results_removed(trusted):
    extra = (f"Authentication-Results: {HOST}; spf=pass smtp.mailfrom=a@good.test;\r\n"
             "\tdkim=pass header.d=example.test\r\n"
             "Authentication-Results: relay.other.test; spf=none\r\n").encode()
    send(trusted, "a@good.test", message("A <a@good.test>", "forged", extra=extra))
    got = pop_all(trusted)
    assert len(got) == 1
    h = head(got[0])
    ours = [l for l in h.split("\r\n") if l.startswith("Authentication-Results: " + HOST)]
    assert len(ours) == 1  # only the one we added
    assert "header.d=example.test" not in h
    assert "Authentication-Results: relay.other.test; spf=none" in h


@pytest.mark.parametrize("delay_ms", [0, 300])  # the lookup and the delay overlap
def test_dnsbl_listed_client_refused_at_connect(mailroom, monkeypatch, rsa, delay_ms):
    mailroom.start_dns(*dns_records(rsa[1]),
                       "--address=/1.0.0.127.bl.test/127.0.0.2")
    set_settings(mailroom, dnsbl_zones="nobl.test, bl.test")
    start_smtpd(mailroom, monkeypatch, greeting_delay_ms=delay_ms)
    d = Dialog(mailroom.ports["smtp"])
    assert d.greeting[0] == 554
    assert "blocked using bl.test" in d.greeting[1][0]
    assert d.greeting[1][0].startswith("5.7.1")
    assert d.closed()
    # submission is not checked against the lists
    d2 = Dialog(mailroom.ports["submission"])
    assert d2.greeting[0] == 220
    d2.close()
    assert "event=dnsbl-reject zone=bl.test answer=127.0.0.2" in mailroom.log("smtpd")


@pytest.mark.parametrize("delay_ms", [0, 300])
def test_dnsbl_not_listed_greets(mailroom, monkeypatch, rsa, delay_ms):
    mailroom.start_dns(*dns_records(rsa[1]))
    set_settings(mailroom, dnsbl_zones="bl.test")
    start_smtpd(mailroom, monkeypatch, greeting_delay_ms=delay_ms)
    t0 = time.monotonic()
    d = Dialog(mailroom.ports["smtp"])
    assert d.greeting[0] == 220
    assert time.monotonic() - t0 >= delay_ms / 1000 * 0.9
    d.expect("QUIT", 221)


def test_settings_reread_on_sighup(mailroom, monkeypatch, rsa):
    import signal
    mailroom.start_dns(*dns_records(rsa[1]),
                       "--address=/1.0.0.127.bl.test/127.0.0.2")
    start_smtpd(mailroom, monkeypatch)
    d = Dialog(mailroom.ports["smtp"])
    assert d.greeting[0] == 220  # no list set: no lookup
    d.close()
    set_settings(mailroom, dnsbl_zones="bl.test")
    log_before = mailroom.log("smtpd").count("event=trust-settings")
    mailroom.procs["smtpd"].send_signal(signal.SIGHUP)
    mailroom.wait_log("smtpd", "event=trust-settings", count=log_before + 1)
    d = Dialog(mailroom.ports["smtp"])
    assert d.greeting[0] == 554


def test_greylisting_defers_then_passes(mailroom, monkeypatch, rsa):
    mailroom.start_dns(*dns_records(rsa[1]))
    set_settings(mailroom, greylist_domains="example.test", greylist_delay=2)
    start_smtpd(mailroom, monkeypatch)
    mailroom.start("pop3d")
    msg = message("A <a@good.test>", "grey")
    with smtplib.SMTP("127.0.0.1", mailroom.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("a@good.test", ["bob@example.test"], msg)
        code, text = e.value.recipients["bob@example.test"]
        assert code == 451 and text.startswith(b"4.7.1 Greylisted")
        s.rset()
        with pytest.raises(smtplib.SMTPRecipientsRefused):  # too early
            s.sendmail("a@good.test", ["bob@example.test"], msg)
    assert pop_all(mailroom) == []
    time.sleep(2.5)
    send(mailroom, "a@good.test", msg)
    got = pop_all(mailroom)
    assert len(got) == 1 and b"Subject: grey" in got[0]
    # the network has passed once: a new triple from it passes at once
    send(mailroom, "c@good.test", message("C <c@good.test>", "next"))
    assert len(pop_all(mailroom)) == 2
    assert mailroom.log("smtpd").count("event=greylisted") == 2
    # an authenticated session is never greylisted
    with smtplib.SMTP("127.0.0.1", mailroom.ports["submission"], timeout=20) as s:
        s.ehlo("laptop")
        s.starttls(context=tls_client_ctx())
        s.ehlo("laptop")
        s.login("alice@example.test", USERS["alice@example.test"])
        s.sendmail("alice@example.test", ["bob@example.test"],
                   message("alice@example.test", "no grey"))
    assert len(pop_all(mailroom)) == 3


def test_spam_subject_tag_and_flag(mailroom, monkeypatch, rsa):
    mailroom.start_dns(*dns_records(rsa[1]))
    set_settings(mailroom, spam_threshold="2", spam_subject_tag="[SPAM]")
    start_smtpd(mailroom, monkeypatch)
    mailroom.start("pop3d")
    send(mailroom, "b@bad.test", message("B <b@bad.test>", "cheap pills"))  # SPF fail
    send(mailroom, "a@good.test", message("A <a@good.test>", "lunch"))
    spam, ham = pop_all(mailroom)
    hs, hh = head(spam), head(ham)
    assert "\r\nSubject: [SPAM] cheap pills\r\n" in hs and "X-Spam-Flag: YES" in hs
    assert "tests=SPF_FAIL" in hs
    assert "\r\nSubject: lunch\r\n" in hh and "X-Spam-Flag" not in hh
    assert spam.endswith(b"\r\n\r\nHello Bob,\r\n\r\nsee you.\r\n")


def test_bdat_and_pipelined_data_get_the_same_checks(trusted):
    # BDAT: a DMARC p=reject failure is refused at the LAST chunk
    msg = message("X <x@strict.test>", "chunked")
    d = Dialog(trusted.ports["smtp"])
    d.expect("EHLO mx.sender.test", 250)
    d.send(b"MAIL FROM:<x@strict.test>\r\nRCPT TO:<bob@example.test>\r\n"
           b"BDAT %d LAST\r\n" % len(msg) + msg)
    assert d.reply()[0] == 250 and d.reply()[0] == 250
    code, text = d.reply()
    assert code == 550 and text[-1].startswith("5.7.1"), text
    # pipelined MAIL/RCPT/DATA: SPF runs while the rest arrives
    d.send(b"MAIL FROM:<a@good.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    assert [d.reply()[0] for _ in range(3)] == [250, 250, 354]
    d.send(message("A <a@good.test>", "pipelined") + b".\r\n")
    assert d.reply()[0] == 250
    d.expect("QUIT", 221)
    got = pop_all(trusted)
    assert len(got) == 1 and "spf=pass" in head(got[0]) and b"pipelined" in got[0]


def test_forged_own_domain_in_other_case_refused(trusted):
    with smtplib.SMTP("127.0.0.1", trusted.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        for frm in ("Boss <boss@EXAMPLE.Test>", "boss@example.test"):  # second: cached answer
            with pytest.raises(smtplib.SMTPDataError) as e:
                s.sendmail("a@good.test", ["bob@example.test"], message(frm, "urgent"))
            assert e.value.smtp_code == 550 and e.value.smtp_error.startswith(b"5.7.1")
    assert pop_all(trusted) == []


@pytest.mark.parametrize("lines", [10, 1000, 1100, 5000])  # held, either side of 64 KiB, big
def test_messages_small_and_large_get_results_on_top(trusted, lines):
    body = b"".join(b"%05d the quarterly figures, line after line, in plain text.\r\n" % i
                    for i in range(lines))
    extra = f"Authentication-Results: {HOST}; dkim=pass header.d=good.test\r\n".encode()
    send(trusted, "a@good.test", message("A <a@good.test>", f"size {lines}", extra=extra,
                                         body=body))
    with smtplib.SMTP("127.0.0.1", trusted.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        with pytest.raises(smtplib.SMTPDataError) as e:  # p=reject, as big
            s.sendmail("x@strict.test", ["bob@example.test"],
                       message("X <x@strict.test>", body=body))
        assert e.value.smtp_code == 550
    got = pop_all(trusted)
    assert len(got) == 1
    h = head(got[0])
    assert h.startswith("Return-Path: <a@good.test>\r\nReceived: from mx.sender.test")
    ar = h.index("\r\nAuthentication-Results: " + HOST + ";\r\n\tspf=pass")
    assert h.index("\r\nX-Spam-Score: ") > ar
    assert ar < h.index("\r\nFrom: A <a@good.test>\r\nTo: bob@example.test\r\n")
    assert h.count("Authentication-Results:") == 1  # the forged one dropped
    assert got[0].endswith(b"\r\n\r\n" + body)


@pytest.mark.skipif(not os.path.exists("/usr/share/publicsuffix/public_suffix_list.dat"),
                    reason="Debian publicsuffix not installed")
def test_public_suffix_list_keeps_neighbours_apart(mailroom, monkeypatch, rsa):
    """victim.github.io and evil.github.io are different organizations
    (github.io is a public suffix): SPF passing for evil.github.io does not
    align with a From at victim.github.io, whose p=reject then refuses it.
    The short built-in list took both for github.io and let it through."""
    mailroom.start_dns(*dns_records(rsa[1]),
                       txt("evil.github.io", "v=spf1 ip4:127.0.0.1 -all"),
                       txt("_dmarc.victim.github.io", "v=DMARC1; p=reject"),
                       txt("mail.victim.github.io", "v=spf1 ip4:127.0.0.1 -all"))
    start_smtpd(mailroom, monkeypatch)
    mailroom.start("pop3d")
    assert re.search(r"event=trust-psl rules=\d{4,}", mailroom.log("smtpd"))
    with smtplib.SMTP("127.0.0.1", mailroom.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("x@evil.github.io", ["bob@example.test"],
                       message("CEO <ceo@victim.github.io>", "wire it"))
        assert e.value.smtp_code == 550 and b"victim.github.io" in e.value.smtp_error
        # the victim's own subdomain still aligns (relaxed): accepted
        s.sendmail("news@mail.victim.github.io", ["bob@example.test"],
                   message("CEO <ceo@victim.github.io>", "newsletter"))
    got = pop_all(mailroom)
    assert len(got) == 1 and "dmarc=pass" in head(got[0])
