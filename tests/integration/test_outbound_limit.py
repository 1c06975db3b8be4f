"""The per-account sending limit (issue 6 item 6): an account whose
password was stolen suddenly sends many messages; past [queue]
account_hourly_limit in an hour mailroom-queued suspends it.

Real parts only: mail goes in through mailroom-smtpd's submission port
(STARTTLS + AUTH as alice), out to a loopback smtp-sink found through a
loopback dnsmasq; the admin reads the notice over POP3; the admin's tool
is mailroomctl. What is checked is what the admin and the attacker see:
how many messages reached the remote server, that the password no longer
logs in, the notice, the held queue, and that enabling the account sends
the rest.
"""
import smtplib
import time

import pytest

from smtp_util import USERS, db, submission, tls_client_ctx, wait_for  # noqa: F401
from test_outbound import ALICE, MX2, Sink, out, pop3_messages, queue_rows, submit  # noqa: F401

ADMIN = "admin@example.test"
ADMIN_PW = "admin-pw-3"


@pytest.fixture
def limited(out, monkeypatch):
    out.extra.setdefault("queue", {})["account_hourly_limit"] = "5"
    out.write_config()
    out.add_user(ADMIN, ADMIN_PW, role="admin")
    monkeypatch.setitem(USERS, ADMIN, ADMIN_PW)
    out.start_dns(*MX2[:1], MX2[2])
    out.remote = out.sink("127.0.0.2")
    out.start("pop3d")
    return out


def ids(sink):
    return {line.split(b":", 1)[1].strip() for raw in sink.messages()
            for line in raw.split(b"\n") if line.lower().startswith(b"subject:")}


def audit(m, action):
    with db(m) as c:
        return [r[0] for r in c.execute("SELECT detail FROM audit_log WHERE action = ?", (action,))]


def send_as(m, sender, n, tag, start=0):
    """n messages in ONE session logged in as alice, MAIL FROM sender, as a
    spammer with a stolen password sends them (queued may suspend the
    account meanwhile; the session is already logged in)."""
    with submission(m, ALICE) as s:
        for i in range(start, start + n):
            s.sendmail(sender, [f"friend{i}@remote.test"],
                       f"From: <{sender}>\r\nTo: <friend{i}@remote.test>\r\n"
                       f"Subject: {tag} {i}\r\n\r\nbuy now\r\n".encode())


def burst(m, n, tag):
    """n messages from alice's own address in one session."""
    send_as(m, ALICE, n, tag)


def login_works(m, user=ALICE):
    with smtplib.SMTP("127.0.0.1", m.ports["submission"], timeout=10) as s:
        s.starttls(context=tls_client_ctx())
        try:
            s.login(user, USERS[user])
            return True
        except smtplib.SMTPAuthenticationError:
            return False


def test_burst_suspends_the_account_and_enabling_sends_the_rest(limited):
    m = limited
    m.start("queued")
    burst(m, 8, "burst")
    assert wait_for(lambda: "event=account-suspended account=alice@example.test" in m.log("queued"),
                    20), m.log("queued")
    log = m.log("queued")
    line = next(l for l in log.splitlines() if "event=account-suspended account=" in l)
    assert " limit=5" in line and int(line.split(" sent=")[1].split()[0]) > 5
    # Nothing more leaves: the sink has at most the limit, the rest is held.
    assert wait_for(lambda: len(queue_rows(m)) + len(ids(m.remote)) == 8, 10)
    time.sleep(2)  # a few more polls: still nothing else goes out
    sent = len(ids(m.remote))
    assert sent <= 5, log
    held = queue_rows(m)
    assert len(held) == 8 - sent and all(r[4].startswith("held: account suspended") for r in held)
    # The stolen password no longer works; the account shows disabled.
    assert not login_works(m)
    assert "disabled" in m.ctl("user", "list").stdout.split(ALICE)[1].splitlines()[0]
    details = audit(m, "account-suspended")
    assert len(details) == 1 and "account=alice@example.test" in details[0] and "limit=5" in details[0]
    # The admin has the notice, saying which account, how many, how to fix.
    notices = pop3_messages(m, ADMIN)
    assert len(notices) == 1, notices
    n = notices[0].decode()
    assert "Subject: Account alice@example.test suspended" in n
    assert "limit 5" in n and "mailroomctl user set alice@example.test --enable" in n
    # Re-enabling releases the held messages: all 8 arrive, none twice.
    m.ctl("user", "set", ALICE, "--enable")
    assert wait_for(lambda: len(ids(m.remote)) == 8, 20), m.log("queued")
    assert wait_for(lambda: queue_rows(m) == [], 10)
    assert len(m.remote.messages()) == 8
    assert "event=account-released account=alice@example.test released=" in m.log("queued")
    assert login_works(m)
    assert "event=bounced" not in m.log("queued")


def test_count_survives_a_restart_and_held_mail_can_be_deleted(limited):
    m = limited
    m.start("queued")
    for i in range(4):
        submit(m, [f"friend{i}@remote.test"], subject=f"before {i}")
    assert wait_for(lambda: len(ids(m.remote)) == 4 and queue_rows(m) == [], 15), m.log("queued")
    m.kill("queued")  # what it counted so far must be in the store
    m.start("queued")
    burst(m, 3, "after")
    assert wait_for(lambda: "event=account-suspended account=alice@example.test" in m.log("queued"),
                    20), m.log("queued")
    assert len(ids(m.remote)) <= 5
    # The admin throws one held message away, then enables the account.
    with db(m) as c:
        victim = c.execute("SELECT id FROM queue ORDER BY id LIMIT 1").fetchone()[0]
    m.ctl("queue", "del", victim)
    m.ctl("user", "set", ALICE, "--enable")
    assert wait_for(lambda: queue_rows(m) == [], 20), m.log("queued")
    assert len(ids(m.remote)) == 6  # 4 + 3 - the deleted one


def test_under_the_limit_nothing_happens(limited):
    m = limited
    m.start("queued")
    for i in range(5):
        submit(m, [f"friend{i}@remote.test"], subject=f"normal {i}")
    assert wait_for(lambda: len(ids(m.remote)) == 5 and queue_rows(m) == [], 15), m.log("queued")
    assert "account-suspended" not in m.log("queued")
    assert login_works(m)


def test_limit_zero_is_off(out):
    out.extra.setdefault("queue", {})["account_hourly_limit"] = "0"
    out.write_config()
    out.start_dns(*MX2[:1], MX2[2])
    sink = out.sink("127.0.0.2")
    out.start("queued")
    for i in range(7):
        submit(out, [f"friend{i}@remote.test"], subject=f"off {i}")
    assert wait_for(lambda: len(ids(sink)) == 7, 20), out.log("queued")
    assert "account-suspended" not in out.log("queued")


def test_notice_goes_to_postmaster_when_there_is_one(limited):
    m = limited
    m.ctl("alias", "add", "postmaster@example.test", "bob@example.test")
    m.start("queued")
    burst(m, 7, "pm")
    assert wait_for(lambda: "event=account-suspended-notice account=alice@example.test"
                    in m.log("queued"), 20), m.log("queued")
    got = pop3_messages(m, "bob@example.test")
    assert len(got) == 1 and b"Subject: Account alice@example.test suspended" in got[0]
    assert pop3_messages(m, ADMIN) == []  # postmaster first, the admin only without one
