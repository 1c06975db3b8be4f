"""Valgrind memcheck spot checks (make check-valgrind, issue 8 item 1): each
daemon runs under memcheck (the wrappers from run.sh) through a short real
dialogue including hostile input, then stops on SIGTERM; its memcheck log
must say 0 errors and no definite leak, and it must not exit with 99."""
import base64
import glob
import os
import poplib
import signal
import smtplib
import ssl
import http.client

from mailroom_harness import free_port, wait_port
from smtp_util import USERS, Dialog, tls_client_ctx

ALICE, BOB = "alice@example.test", "bob@example.test"
LOGS = os.environ.get("MAILROOM_VG_LOGS", "")


def start(m, name, ports):
    """Start name under memcheck. A daemon that exits at once (a port taken
    between the harness's probe and the bind, seen once in a full run) is
    tried again on fresh ports; its log says why."""
    for attempt in range(3):
        m.start(name, wait=False)
        try:
            for p in ports:
                wait_port(m.ports[p], timeout=180, proc=m.procs[name])
            return
        except RuntimeError:
            print(f"{name} exited before listening (attempt {attempt + 1}):\n{m.log(name)}")
            if attempt == 2:
                raise
            for p in ports:
                m.ports[p] = free_port()
            m.write_config()


def stop_and_check(m, name):
    m.procs[name].send_signal(signal.SIGTERM)
    rc = m.procs[name].wait(180)
    logs = glob.glob(f"{LOGS}/mailroom-{name}.{m.procs[name].pid}.log")
    assert logs, f"no memcheck log for {name} in {LOGS}"
    text = open(logs[0]).read()
    assert rc != 99, f"{name}: memcheck errors\n{text[-6000:]}"
    assert "Memcheck, a memory error detector" in text, text[:500]  # really under valgrind
    assert "ERROR SUMMARY: 0 errors" in text, text[-6000:]
    assert "definitely lost: 0 bytes" in text or "definitely lost" not in text, text[-4000:]


def users(m):
    for u, pw in USERS.items():
        m.add_user(u, pw)


def test_smtpd_under_memcheck(mailroom):
    mailroom.extra.setdefault("smtp", {}).update(greeting_delay="0", auth_failure_delay="0")
    mailroom.write_config()
    users(mailroom)
    start(mailroom, "smtpd", ("smtp", "submission", "smtps"))
    with smtplib.SMTP("127.0.0.1", mailroom.ports["smtp"], timeout=120) as s:
        s.sendmail("a@remote.test", [BOB], b"Subject: vg\r\n\r\nhello\r\n")
    with smtplib.SMTP("127.0.0.1", mailroom.ports["submission"], timeout=120) as s:
        s.starttls(context=tls_client_ctx())
        s.login(ALICE, USERS[ALICE])
        s.sendmail(ALICE, [BOB, "friend@remote.test"], b"Subject: vg2\r\n\r\nhello\r\n")
    with smtplib.SMTP_SSL("127.0.0.1", mailroom.ports["smtps"], context=tls_client_ctx(),
                          timeout=120) as s:
        try:
            s.login(ALICE, "wrong")
        except smtplib.SMTPAuthenticationError:
            pass
    d = Dialog(mailroom.ports["smtp"], timeout=120)
    d.expect("EHLO vg", 250)
    d.expect("MAIL FROM:<a@remote.test> SIZE=-1", 501)
    d.expect("MAIL FROM:<a@remote.test>", 250)
    d.expect("RCPT TO:<friend%remote.test@example.test>", 554)
    d.expect(f"RCPT TO:<{BOB}>", 250)
    d.expect("DATA", 354)
    d.send(b"Subject: x\r\n\r\nbare\nLF\r\n.\r\n")
    code, _ = d.reply()
    assert code >= 500
    d.send(b"NOOP " + b"A" * 5000 + b"\r\n")
    assert d.reply()[0] == 500
    d.send(b"STARTTLS\r\nNOOP\r\n")
    assert d.reply()[0] == 220
    d.close()
    stop_and_check(mailroom, "smtpd")


def test_pop3d_under_memcheck(mailroom):
    mailroom.extra.setdefault("smtp", {})["greeting_delay"] = "0"
    mailroom.write_config()
    users(mailroom)
    mailroom.start("smtpd")  # not under test here; fills the mailbox
    with smtplib.SMTP("127.0.0.1", mailroom.ports["smtp"], timeout=60) as s:
        for i in range(3):
            s.sendmail("a@remote.test", [BOB], f"Subject: m{i}\r\n\r\n".encode() + b"l\r\n" * 2000)
    start(mailroom, "pop3d", ("pop3", "pop3s"))
    p = poplib.POP3("127.0.0.1", mailroom.ports["pop3"], timeout=120)
    p.stls(context=tls_client_ctx())
    p.user(BOB)
    p.pass_(USERS[BOB])
    assert len(p.list()[1]) == 3
    p.uidl()
    p.retr(1)
    p.top(2, 5)
    p.dele(3)
    p.quit()
    p = poplib.POP3_SSL("127.0.0.1", mailroom.ports["pop3s"], context=tls_client_ctx(), timeout=120)
    try:
        p.user(BOB)
        p.pass_("wrong")
    except poplib.error_proto:
        pass
    p.close()
    raw = Dialog(mailroom.ports["pop3"], timeout=120, greet=False)
    raw._line()
    raw.send(b"USER " + b"x" * 2000 + b"\r\nAUTH PLAIN " +
             base64.b64encode(b"\0\0\0") + b"\r\nSTLS\r\nQUIT\r\n")
    raw.close()
    stop_and_check(mailroom, "pop3d")


def test_webadmin_under_memcheck(mailroom):
    mailroom.add_user("admin@example.test", "admin-pw-123", role="admin")
    start(mailroom, "webadmin", ("admin",))
    for method, path, body in [("GET", "/", None), ("GET", "/login", None),
                               ("POST", "/login", "user=admin%40example.test&password=bad"),
                               ("GET", "/api/v1/accounts", None),
                               ("GET", "/%00/../..%2f", None)]:
        c = http.client.HTTPSConnection("127.0.0.1", mailroom.ports["admin"], timeout=120,
                                        context=tls_client_ctx())
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        r.read()
        assert r.status < 500, (path, r.status)
        c.close()
    stop_and_check(mailroom, "webadmin")
