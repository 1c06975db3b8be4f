"""Real mail through smtpd, seen in the panel: the dashboard counts a
delivery, the queue page and API list a message for a remote host that
does not answer, and retry/delete work from the page."""
import re
import smtplib
import ssl
import time

import pytest

from test_web_client import Web

ADMIN = "admin@example.test"


def send(m, sender, password, rcpts, body="hello"):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", m.ports["submission"], timeout=20) as s:
        s.starttls(context=ctx)
        s.login(sender, password)
        s.sendmail(sender, rcpts, f"From: {sender}\r\nSubject: t\r\n\r\n{body}\r\n")


def test_dashboard_and_queue_with_real_mail(mailroom):
    m = mailroom
    m.add_user(ADMIN, "admin-pw-1", role="admin")
    m.add_user("anna@example.test", "anna-pw-12")
    token = m.ctl("token", "add", "t").stdout.strip()
    try:
        m.start("smtpd")
    except Exception as exc:
        pytest.skip(f"smtpd not available: {exc}")
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login(ADMIN, "admin-pw-1").status == 303

    send(m, "anna@example.test", "anna-pw-12", [ADMIN], ("x" * 70 + "\r\n") * 70)
    time.sleep(1.1)  # the dashboard's counts may be a second old
    page = w.get("/").text
    today = re.search(r"<b>(\d+)</b><span>messages today</span>", page)
    assert today and int(today.group(1)) >= 1, page

    # remote.test has no MX in the loopback DNS: the message waits in the queue
    send(m, "anna@example.test", "anna-pw-12", ["someone@remote.test"])
    rows = []
    for _ in range(50):
        rows = w.api("GET", "/queue", token).json()
        if rows:
            break
        time.sleep(0.1)
    if not rows:
        pytest.skip("smtpd did not queue the remote message (queue runner delivered or bounced it)")
    qid = rows[0]["id"]
    assert rows[0]["recipient"] == "someone@remote.test"
    page = w.get("/queue").text
    assert "someone@remote.test" in page
    r = w.submit("/queue", "/queue/retry", {"id": str(qid)})
    assert r.status == 303
    assert "tried again now" in w.get("/queue").text
    r = w.submit("/queue", "/queue/delete", {"id": str(qid)})
    assert r.status == 303
    assert all(q["id"] != qid for q in w.api("GET", "/queue", token).json())
    audit = w.get("/audit").text
    assert "queue-retry" in audit and "queue-del" in audit
