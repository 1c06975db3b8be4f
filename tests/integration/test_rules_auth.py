"""The spf / dkim / dmarc rule conditions end to end: rules made with
`mailroomctl rule add --if ...`, mail from "remote servers" through the real
mailroom-smtpd MX port (smtplib; DNS from a loopback dnsmasq publishing SPF,
a DKIM key and DMARC records; one message signed by python3-dkim), read back
with poplib through the real mailroom-pop3d. The conditions see smtpd's own
Authentication-Results only: a sender's forged "our-hostname; dkim=pass" is
removed at the MX, and another server's field never counts."""
import email
import email.policy
import smtplib
import time

from smtp_util import pop3_messages, start_smtpd, submission
from test_smtp_trust import dns_records, rsa, sign, txt  # noqa: F401 (rsa: fixture)

HOST = "mail.example.test"  # the test config's [server] hostname
BOB = "bob@example.test"


def send(m, sender, frm, subject, extra="", key=None, rcpt=BOB):
    msg = (f"{extra}From: {frm}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
           f"Message-ID: <{time.time_ns()}@x.test>\r\n\r\nHello Bob.\r\n").encode()
    if key is not None:
        msg = sign(msg, key)
    with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        s.sendmail(sender, [rcpt], msg)


def pop(m, user):
    return [email.message_from_bytes(raw, policy=email.policy.default)
            for raw in pop3_messages(m, user)]


def test_auth_results_drive_server_and_account_rules(mailroom, monkeypatch, rsa):
    m = mailroom
    m.start_dns(*dns_records(rsa[1]),
                # fails SPF, no DKIM: DMARC fails, but p=none lets it in
                txt("pnone.test", "v=spf1 ip4:192.0.2.1 -all"),
                txt("_dmarc.pnone.test", "v=DMARC1; p=none"))
    start_smtpd(m, monkeypatch)
    m.start("pop3d")
    m.ctl("rule", "add", "--server", "Forged", "--if", "dmarc", "is", "fail",
          "--tag", "[FORGED]")
    m.ctl("rule", "add", BOB, "Verified", "--if", "dkim", "is", "pass",
          "--header", "X-Verified", "yes")
    m.ctl("rule", "add", BOB, "SPF", "--if-not", "spf", "is", "pass",
          "--header", "X-SPF-Not-Pass", "yes")
    assert "if dmarc is fail then tag" in m.ctl("rule", "list", "--server").stdout

    # 1. signed with the key signer.test publishes: dkim=pass
    send(m, "carol@signer.test", "Carol <carol@signer.test>", "signed", key=rsa[0])
    # 2. SPF fail and DMARC fail under p=none: delivered, tagged
    send(m, "x@pnone.test", "X <x@pnone.test>", "forged")
    # 3. unsigned, SPF pass
    send(m, "a@good.test", "A <a@good.test>", "plain")
    # 4. unsigned, carrying a forged field of ours and another server's
    #    field, both claiming pass: removed / ignored
    forged = (f"Authentication-Results: {HOST}; spf=pass smtp.mailfrom=a@good.test;\r\n"
              "\tdkim=pass header.d=good.test; dmarc=pass\r\n"
              "Authentication-Results: relay.other.test; dkim=pass header.d=good.test;\r\n"
              "\tdmarc=fail\r\n")
    send(m, "a@good.test", "A <a@good.test>", "claims", extra=forged)

    got = pop(m, BOB)
    assert [str(g["Subject"]) for g in got] == ["signed", "[FORGED] forged", "plain", "claims"]
    signed, bad, plain, claims = got
    ours = [v for v in signed.get_all("Authentication-Results") if v.startswith(HOST)]
    assert len(ours) == 1 and "dkim=pass" in ours[0]
    assert signed.get_all("X-Verified") == ["yes"]
    assert signed.get_all("X-SPF-Not-Pass") == ["yes"]  # signer.test: spf=neutral
    assert bad.get_all("X-Verified") is None
    assert bad.get_all("X-SPF-Not-Pass") == ["yes"]
    assert "dmarc=fail" in [v for v in bad.get_all("Authentication-Results")
                            if v.startswith(HOST)][0]
    assert plain.get_all("X-Verified") is None and plain.get_all("X-SPF-Not-Pass") is None
    # the forged field of ours is gone; ours says dkim=none, so no X-Verified
    ours = [v for v in claims.get_all("Authentication-Results") if v.startswith(HOST)]
    assert len(ours) == 1 and "dkim=none" in ours[0] and "header.d=good.test" not in ours[0]
    assert claims.get_all("X-Verified") is None
    assert claims.get_all("X-SPF-Not-Pass") is None  # spf=pass (ours)
    assert str(claims["Subject"]) == "claims"  # relay.other.test's dmarc=fail: not ours

    # the same rules, asked through `rule test` on the stored message of
    # the signed one: the CLI reads our field as delivery did
    raw = pop3_messages(m, BOB)[0]
    path = m.dir / "signed.eml"
    path.write_bytes(raw)
    out = m.ctl("rule", "test", BOB, path).stdout
    assert out.startswith("matched: Verified, SPF\n"), out


def test_logged_in_users_cannot_forge_our_results(mailroom, monkeypatch):
    """Staff mail (submission, AUTH) skips the checks, but not the filter:
    a client that writes "our-hostname; dkim=pass" or X-Spam-Flag into a
    message to a colleague must not satisfy the colleague's rules, which
    take both as our own checks' word (RFC 8601 section 5)."""
    m = mailroom
    start_smtpd(m, monkeypatch)
    m.start("pop3d")
    m.ctl("rule", "add", BOB, "Verified", "--if", "dkim", "is", "pass",
          "--header", "X-Verified", "yes")
    m.ctl("rule", "add", "--server", "Junk", "--if", "spam", "is", "yes",
          "--tag", "[JUNK]")
    body = (f"Authentication-Results: {HOST}; dkim=pass header.d=example.test\r\n"
            "X-Spam-Flag: YES\r\n"
            "X-Spam-Status: Yes, score=99\r\n"
            "Authentication-Results: relay.other.test; dkim=pass\r\n"
            f"From: alice@example.test\r\nTo: {BOB}\r\nSubject: from alice\r\n"
            "\r\nHi Bob.\r\n").encode()
    with submission(m, "alice@example.test") as s:
        s.sendmail("alice@example.test", [BOB], body)
    (got,) = pop(m, BOB)
    assert str(got["Subject"]) == "from alice"  # no [JUNK]
    assert got.get_all("X-Verified") is None
    assert got.get_all("X-Spam-Flag") is None and got.get_all("X-Spam-Status") is None
    # only the other server's field is left (staff mail gets no A-R of ours)
    assert got.get_all("Authentication-Results") == ["relay.other.test; dkim=pass"]
    assert got.get_content().strip() == "Hi Bob."


def test_hostname_changed_by_sighup_reaches_the_rules(mailroom, monkeypatch, rsa):
    """After SIGHUP with a new [server] hostname, smtpd writes its
    Authentication-Results under the new name and the rules read that
    name's results (the writer thread's rules used to keep the old one,
    so every condition read "none" until a restart)."""
    import signal

    m = mailroom
    m.start_dns(*dns_records(rsa[1]))
    start_smtpd(m, monkeypatch)
    m.start("pop3d")
    m.ctl("rule", "add", BOB, "SPF", "--if", "spf", "is", "pass",
          "--header", "X-SPF", "pass")
    send(m, "a@good.test", "A <a@good.test>", "before")
    cfg = m.cfg_path.read_text()
    assert f"hostname = {HOST}" in cfg
    m.cfg_path.write_text(cfg.replace(f"hostname = {HOST}", "hostname = mx2.example.test"))
    m.procs["smtpd"].send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "event=config-reloaded hostname=mx2.example.test" not in m.log("smtpd"):
        assert time.monotonic() < deadline, "no reload logged"
        time.sleep(0.05)
    send(m, "a@good.test", "A <a@good.test>", "after")
    before, after = pop(m, BOB)
    assert before.get_all("X-SPF") == ["pass"]
    ours = [v for v in after.get_all("Authentication-Results")
            if v.startswith("mx2.example.test;")]
    assert len(ours) == 1 and "spf=pass" in ours[0]
    assert after.get_all("X-SPF") == ["pass"]
