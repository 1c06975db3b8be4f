"""Per-recipient outcomes against a scripted remote MX (aiosmtpd): one
transaction where one recipient is accepted, one rejected (5xx) and one
greylisted (4xx); the server's SIZE limit; a server that only knows HELO.
"""
import email
import email.policy
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from smtp_util import wait_for
from test_outbound import ALICE, MX2, out, pop3_messages, queue_rows, submit  # noqa: F401


class Scripted:
    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bad@"):
            return "550 5.1.1 <bad@remote.test>: no such user here"
        if address.startswith("grey@"):
            return "451 4.7.1 greylisted, come back later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 ok"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 accepted"


def test_mixed_recipient_results(out):
    out.start("pop3d")
    out.start_dns(*MX2[:1], MX2[2])
    h = Scripted()
    ctl = Controller(h, hostname="127.0.0.2", port=out.ports["relay"])
    ctl.start()
    try:
        out.start("queued")
        submit(out, ["good@remote.test", "bad@remote.test", "grey@remote.test"], subject="three")
        assert wait_for(lambda: len(h.messages) == 1, 15), out.log("queued")
        assert h.messages[0][1] == ["good@remote.test"]
        # bad bounced (DSN with the server's words), grey waits for a retry
        assert wait_for(lambda: len(pop3_messages(out, ALICE)) == 1, 15), out.log("queued")
        dsn = email.message_from_bytes(pop3_messages(out, ALICE)[0], policy=email.policy.default)
        report = list(dsn.iter_parts())[1].as_string()
        assert "Final-Recipient: rfc822; bad@remote.test" in report
        assert "550 5.1.1 <bad@remote.test>: no such user here" in report
        assert "grey@remote.test" not in report and "good@remote.test" not in report
        rows = queue_rows(out)
        assert [(r[1], r[2]) for r in rows] == [("grey@remote.test", 1)]
        assert rows[0][4] == "451 4.7.1 greylisted, come back later"
    finally:
        ctl.stop()


def test_message_over_the_remote_size_limit_bounces(out):
    out.start("pop3d")
    out.start_dns(*MX2[:1], MX2[2])
    h = Scripted()
    ctl = Controller(h, hostname="127.0.0.2", port=out.ports["relay"], data_size_limit=2000)
    ctl.start()
    try:
        out.start("queued")
        submit(out, ["good@remote.test"], subject="too big", body="x" * 70 + "\r\n" * 1 + ("y" * 70 + "\r\n") * 60)
        assert wait_for(lambda: len(pop3_messages(out, ALICE)) == 1, 15), out.log("queued")
        raw = pop3_messages(out, ALICE)[0]
        assert b"Status: 5.3.4" in raw and b"larger than mx1.remote.test accepts (2000)" in raw
        assert h.messages == []  # never sent
        assert queue_rows(out) == []
    finally:
        ctl.stop()


class HeloOnly(SMTP):
    async def smtp_EHLO(self, hostname):
        await self.push("502 5.5.2 EHLO not implemented")


def test_helo_only_server(out):
    out.start_dns(*MX2[:1], MX2[2])
    h = Scripted()

    class C(Controller):
        def factory(self):
            return HeloOnly(self.handler)
    ctl = C(h, hostname="127.0.0.2", port=out.ports["relay"])
    ctl.start()
    try:
        out.start("queued")
        submit(out, ["good@remote.test", "other@remote.test"], subject="old server")
        assert wait_for(lambda: len(h.messages) == 1, 15), out.log("queued")
        mail_from, rcpts, content = h.messages[0]
        assert rcpts == ["good@remote.test", "other@remote.test"]
        assert b"Subject: old server" in content
        assert "send=\"HELO mail.example.test" in out.log("queued")
        assert "SIZE=" not in out.log("queued")  # no ESMTP parameters to a HELO server
    finally:
        ctl.stop()


def test_big_message_with_leading_dots_arrives_intact(out):
    out.start_dns(*MX2[:1], MX2[2])
    h = Scripted()
    ctl = Controller(h, hostname="127.0.0.2", port=out.ports["relay"], data_size_limit=50_000_000)
    ctl.start()
    try:
        out.start("queued")
        line = "0123456789" * 7 + "\r\n"
        body = ("." + line + line + ".\r\n" + ".." + line) * 12000  # ~2.6 MB, dot lines
        submit(out, ["good@remote.test"], subject="big", body=body)
        assert wait_for(lambda: len(h.messages) == 1, 30), out.log("queued")
        content = h.messages[0][2]
        assert content.endswith(body.encode())  # dot-stuffing undone exactly
        assert b"\r\nReturn-Path:" not in content and not content.startswith(b"Return-Path:")
        assert wait_for(lambda: queue_rows(out) == [], 10)
    finally:
        ctl.stop()


class OneMessagePerConnection(SMTP):
    """Closes the connection after each message it accepts."""

    async def smtp_DATA(self, arg):
        await super().smtp_DATA(arg)
        self.transport.close()


def test_server_that_takes_one_message_per_connection(out):
    out.start_dns(*MX2[:1], MX2[2])
    h = Scripted()

    class C(Controller):
        def factory(self):
            return OneMessagePerConnection(self.handler)
    ctl = C(h, hostname="127.0.0.2", port=out.ports["relay"])
    ctl.start()
    try:
        for i in range(3):  # queued first, so one job carries all three
            submit(out, ["good@remote.test"], subject=f"one of three {i}")
        out.start("queued")
        assert wait_for(lambda: len(h.messages) == 3, 15), out.log("queued")
        assert wait_for(lambda: queue_rows(out) == [], 10)
        assert out.log("queued").count("event=connect ") == 3
        assert "event=deferred" not in out.log("queued")
    finally:
        ctl.stop()


def test_bounce_to_a_remote_sender_goes_out_with_the_null_sender(out, tmp_path):
    # outsider@far.test writes to fwd@example.test, which forwards to
    # friend@remote.test; remote.test refuses it. The DSN is for the
    # outsider: queued out (null sender) to far.test's MX.
    from test_outbound import Sink
    out.ctl("alias", "add", "fwd@example.test", "friend@remote.test")
    out.start_dns(*MX2[:1], MX2[2], "--mx-host=far.test,mx.far.test,10",
                  "--host-record=mx.far.test,127.0.0.3")
    h = Scripted()
    ctl = Controller(h, hostname="127.0.0.3", port=out.ports["relay"])
    ctl.start()
    refuser = Sink("127.0.0.2", out.ports["relay"], "-f", "RCPT")
    try:
        out.start("queued")
        import smtplib
        with smtplib.SMTP("127.0.0.1", out.ports["smtp"], timeout=10) as s:
            s.sendmail("outsider@far.test", ["fwd@example.test"],
                       b"From: <outsider@far.test>\r\nSubject: hello fwd\r\n\r\nhi\r\n")
        assert wait_for(lambda: len(h.messages) == 1, 20), out.log("queued")
        mail_from, rcpts, content = h.messages[0]
        assert mail_from in ("", "<>") and rcpts == ["outsider@far.test"]  # the null sender
        dsn = email.message_from_bytes(content, policy=email.policy.default)
        assert dsn.get_content_type() == "multipart/report"
        report = list(dsn.iter_parts())[1].as_string()
        assert "Final-Recipient: rfc822; friend@remote.test" in report
        assert "Error: command failed" in report
        assert b"Subject: hello fwd" in content
        assert wait_for(lambda: queue_rows(out) == [], 10)
    finally:
        refuser.remove()
        ctl.stop()


def test_8bit_body_goes_with_body_8bitmime(out):
    out.start_dns(*MX2[:1], MX2[2])
    seen = []

    class H(Scripted):
        async def handle_MAIL(self, server, session, envelope, address, mail_options):
            seen.append(list(mail_options))
            envelope.mail_from = address
            return "250 2.1.0 ok"
    h = H()
    ctl = Controller(h, hostname="127.0.0.2", port=out.ports["relay"], decode_data=False)
    ctl.start()
    try:
        out.start("queued")
        submit(out, ["good@remote.test"], subject="plain")
        assert wait_for(lambda: len(h.messages) == 1, 15), out.log("queued")
        from smtp_util import submission
        msg = "From: <alice@example.test>\r\nSubject: caf\u00e9\r\n\r\nd\u00e9j\u00e0 vu\r\n".encode()
        with submission(out, ALICE) as s:
            s.sendmail(ALICE, ["good@remote.test"], msg, mail_options=["BODY=8BITMIME"])
        assert wait_for(lambda: len(h.messages) == 2, 15), out.log("queued")
        assert not any(o.upper().startswith("BODY=") for o in seen[0])
        assert "BODY=8BITMIME" in [o.upper() for o in seen[1]]
        assert h.messages[1][2].endswith("d\u00e9j\u00e0 vu\r\n".encode())
    finally:
        ctl.stop()
