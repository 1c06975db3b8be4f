"""Panel sessions survive a restart of mailroom-webadmin (issue 5): the
session is a row of web_sessions keyed by the SHA-256 of the cookie (never
the cookie itself), the CSRF secret is a store setting so an open form
still posts after the restart, while logout, a password change and idle
expiry still end sessions, across restarts too."""
import hashlib
import sqlite3
import time

from test_web_client import Web, CSRF_RE

ADMIN = "admin@example.test"
ADMIN_PW = "admin-pw-1"


def rows(m):
    with sqlite3.connect(m.db_path, timeout=10) as c:
        return c.execute("SELECT id_hash, address, created, last_seen "
                         "FROM web_sessions").fetchall()


def restart(m):
    assert m.stop("webadmin") == 0
    m.start("webadmin")


def test_session_and_open_form_survive_a_restart(mailroom):
    m = mailroom
    m.add_user(ADMIN, ADMIN_PW, role="admin")
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login(ADMIN, ADMIN_PW).status == 303
    sid = w.cookies["mr_sid"]
    stored = rows(m)
    assert [(h, a) for h, a, _, _ in stored] == [
        (hashlib.sha256(sid.encode()).hexdigest(), ADMIN)]
    assert sid not in repr(stored)  # only the hash reaches the disk
    token = CSRF_RE.search(w.get("/domains").text).group(1)

    restart(m)
    r = w.get("/")
    assert r.status == 200 and "<h1>Dashboard</h1>" in r.text
    # the form loaded before the restart still posts
    r = w.post("/domains/add", {"domain": "after-restart.test", "csrf": token})
    assert r.status == 303, r
    assert "after-restart.test" in m.ctl("domain", "list").stdout
    # a forged token is still refused
    assert w.post("/domains/add", {"domain": "x.test", "csrf": "0" * 64}).status == 403

    # logout deletes the row: the old cookie is dead, also after a restart
    old = dict(w.cookies)
    assert w.submit("/", "/logout", {}).status == 303
    assert rows(m) == []
    restart(m)
    w.cookies = old
    assert w.get("/").header("Location") == "/login"


def test_password_change_ends_other_sessions_in_the_store(mailroom):
    m = mailroom
    m.add_user(ADMIN, ADMIN_PW, role="admin")
    m.start("webadmin")
    a, b = Web(m.ports["admin"]), Web(m.ports["admin"])
    assert a.login(ADMIN, ADMIN_PW).status == 303
    assert b.login(ADMIN, ADMIN_PW).status == 303
    assert len(rows(m)) == 2
    r = a.submit("/me", "/me/password", {"current": ADMIN_PW, "password": "new-admin-pw-2",
                                         "password2": "new-admin-pw-2"})
    assert r.status in (200, 303), r
    left = rows(m)
    assert [h for h, *_ in left] == [hashlib.sha256(a.cookies["mr_sid"].encode()).hexdigest()]
    restart(m)
    assert b.get("/").header("Location") == "/login"
    assert a.get("/").status == 200


def test_idle_expiry_holds_across_a_restart(mailroom, monkeypatch):
    m = mailroom
    m.add_user(ADMIN, ADMIN_PW, role="admin")
    # long enough for a restart on a loaded machine, short enough to wait out
    monkeypatch.setenv("MAILROOM_WEBADMIN_SESSION_IDLE", "6")
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login(ADMIN, ADMIN_PW).status == 303
    restart(m)
    assert w.get("/").status == 200  # within the idle time
    assert m.stop("webadmin") == 0
    time.sleep(7)
    m.start("webadmin")
    assert w.get("/").header("Location") == "/login"
    assert rows(m) == []  # the expired row is gone from the store


def sessions_metric(m, token):
    r = Web(m.ports["admin"]).request("GET", "/metrics",
                                      headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200, r
    vals = dict(line.split() for line in r.text.splitlines() if not line.startswith("#"))
    return int(vals["mailroom_webadmin_sessions"])


def test_metrics_count_sessions_made_before_a_restart(mailroom):
    """/metrics counts the panel's live sessions from the store: after a
    restart the two signed-in admins are still there (the cache is empty
    until they come back); a logout takes one away."""
    m = mailroom
    m.add_user(ADMIN, ADMIN_PW, role="admin")
    token = m.ctl("token", "add", "metrics").stdout.strip()
    m.start("webadmin")
    a, b = Web(m.ports["admin"]), Web(m.ports["admin"])
    assert sessions_metric(m, token) == 0
    assert a.login(ADMIN, ADMIN_PW).status == 303
    assert b.login(ADMIN, ADMIN_PW).status == 303
    assert sessions_metric(m, token) == 2
    restart(m)
    assert sessions_metric(m, token) == 2
    assert b.submit("/", "/logout", {}).status == 303
    assert sessions_metric(m, token) == 1
    assert a.get("/").status == 200  # the one left still works
    assert sessions_metric(m, token) == 1
