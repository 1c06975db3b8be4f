"""Internationalized mail out (RFC 6531 SMTPUTF8, RFC 5890 IDNA).

- A recipient whose local part is UTF-8 (jörg@remote.test), submitted by
  alice with SMTPUTF8 through mailroom-smtpd, goes out with MAIL FROM ...
  SMTPUTF8 to a remote server that offers it, and to one that does not it
  is not sent at all: alice gets a DSN with status 5.6.7 (RFC 6531 3.5).
- A recipient domain in Unicode (büro.example) is looked up in DNS as its
  A-label (xn--bro-hoa.example; dnsmasq knows only that name) and named
  so in RCPT TO, which needs no SMTPUTF8.

The remote servers are aiosmtpd (enable_SMTPUTF8 on or off) on 127.0.0.2.
"""

import pytest
from aiosmtpd.controller import Controller

from smtp_util import db, submission, wait_for  # noqa: F401
from test_outbound import ALICE, MX2, check_report, dsn_of, out, queue_rows, submit  # noqa: F401

JORG = "jörg@remote.test"


class Remote:
    def __init__(self, port, smtputf8):
        self.got = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.got.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  [o.upper() for o in envelope.mail_options], envelope.content))
                return "250 2.0.0 ok"

        self.ctl = Controller(Handler(), hostname="127.0.0.2", port=port,
                              enable_SMTPUTF8=smtputf8)
        self.ctl.start()

    def stop(self):
        self.ctl.stop()


@pytest.fixture
def remote(out):
    made = []

    def start(smtputf8):
        r = Remote(out.ports["relay"], smtputf8)
        made.append(r)
        return r
    yield start
    for r in made:
        r.stop()


def check_report_utf8(msg, xtext, status):
    assert msg.get_content_type() == "multipart/report"
    parts = list(msg.iter_parts())
    report = parts[1].as_string()
    assert f"Final-Recipient: utf-8; {xtext}" in report, report
    assert "Action: failed" in report and f"Status: {status}" in report
    assert report.isascii()
    return parts


def submit_utf8(m, rcpt, subject):
    msg = (f"From: <{ALICE}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n\r\nGrüße.\r\n").encode()
    with submission(m, ALICE) as s:
        s.sendmail(ALICE, [rcpt], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])


def test_utf8_local_part_goes_with_smtputf8(out, remote):
    out.start_dns(*MX2[:1], MX2[2])
    r = remote(True)
    out.start("queued")
    submit_utf8(out, JORG, "utf8 rcpt")
    assert wait_for(lambda: len(r.got) == 1, 15), out.log("queued")
    mail_from, rcpts, options, content = r.got[0]
    assert rcpts == [JORG] and mail_from == ALICE
    assert "SMTPUTF8" in options
    assert "Subject: utf8 rcpt".encode() in content and "Grüße.".encode() in content
    assert wait_for(lambda: queue_rows(out) == [], 5)


def test_utf8_local_part_bounces_5_6_7_without_smtputf8(out, remote):
    out.start("pop3d")
    out.start_dns(*MX2[:1], MX2[2])
    r = remote(False)
    out.start("queued")
    submit_utf8(out, JORG, "utf8 to an old server")
    raw, msg = dsn_of(out)
    # RFC 6533: a UTF-8 address in the 7-bit report is utf-8-addr-xtext.
    parts = check_report_utf8(msg, "j\\x{F6}rg@remote.test", "5.6.7")
    text = parts[0].get_content()
    assert "does not support SMTPUTF8" in text and f"<{JORG}>" in text
    assert r.got == []  # nothing was sent
    assert wait_for(lambda: queue_rows(out) == [], 5)


def test_unicode_domain_is_looked_up_as_its_a_label(out, remote):
    out.start_dns("--mx-host=xn--bro-hoa.example,mx.xn--bro-hoa.example,10",
                  "--host-record=mx.xn--bro-hoa.example,127.0.0.2")
    r = remote(False)  # the A-label form needs no SMTPUTF8
    submit(out, ["friend@remote.test"], subject="to the office")
    # Test setup: mailroom-smtpd accepts only A-label domains (common/addr.c),
    # so the U-label recipient is put in the queued row directly, as a
    # future SMTPUTF8 path (or an import) would store it.
    import sqlite3
    with sqlite3.connect(out.db_path, timeout=10) as c:
        c.execute("UPDATE queue SET recipient = ?", ("friend@büro.example",))
    out.start("queued")
    assert wait_for(lambda: len(r.got) == 1, 15), out.log("queued")
    mail_from, rcpts, options, content = r.got[0]
    assert rcpts == ["friend@xn--bro-hoa.example"]
    assert "SMTPUTF8" not in options
    assert b"Subject: to the office" in content
    assert wait_for(lambda: queue_rows(out) == [], 5)
    assert "domain=xn--bro-hoa.example" in out.log("queued") or \
        "dest=xn--bro-hoa.example" in out.log("queued")


def test_invalid_unicode_domain_bounces(out):
    out.start("pop3d")
    out.start_dns()
    submit(out, ["friend@remote.test"], subject="bad idn")
    import sqlite3
    with sqlite3.connect(out.db_path, timeout=10) as c:
        # '--' in the 3rd and 4th place of a U-label is refused by
        # IDNA2008 (RFC 5891 4.2.3.1): it has no A-label.
        c.execute("UPDATE queue SET recipient = ?", ("friend@ab--cü.example",))
    out.start("queued")
    raw, msg = dsn_of(out)
    parts = check_report_utf8(msg, "friend@ab--c\\x{FC}.example", "5.1.2")
    assert "not a valid internationalized domain name" in parts[0].get_content()
