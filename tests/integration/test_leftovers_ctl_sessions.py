"""mailroomctl user passwd / set --disable / del end the account's web
panel sessions, like the panel's own password change: the row in
web_sessions goes, so the cookie taken before the change is refused (by
the running mailroom-webadmin on the very next request, since its in-memory
cache confirms every hit against the store, and after a restart) and does
not come back when the account is enabled again or re-created."""
import sqlite3

from test_web_client import Web

ADMIN = "admin@example.test"
ADMIN_PW = "admin-pw-1"
BOB = "bob@example.test"
BOB_PW = "bob-pw-1"


def session_rows(m, address):
    with sqlite3.connect(m.db_path, timeout=10) as c:
        return c.execute("SELECT count(*) FROM web_sessions WHERE address = ?",
                         (address,)).fetchone()[0]


def logged_in(w):
    r = w.get("/")
    return r.status in (200, 303) and r.header("Location") != "/login"


def restart(m):
    assert m.stop("webadmin") == 0
    m.start("webadmin")


def two_sessions(m):
    """bob and the admin each logged in; bob's cookie works."""
    m.add_user(ADMIN, ADMIN_PW, role="admin")
    m.add_user(BOB, BOB_PW)
    m.start("webadmin")
    bob, admin = Web(m.ports["admin"]), Web(m.ports["admin"])
    assert bob.login(BOB, BOB_PW).status == 303
    assert admin.login(ADMIN, ADMIN_PW).status == 303
    assert logged_in(bob) and logged_in(admin)
    assert session_rows(m, BOB) == 1
    return bob, admin


def test_ctl_passwd_ends_panel_sessions(mailroom):
    m = mailroom
    bob, admin = two_sessions(m)
    r = m.ctl("user", "passwd", BOB, input="bob-new-pw-2\n")
    assert "password of bob@example.test changed" in r.stdout
    assert session_rows(m, BOB) == 0
    assert session_rows(m, ADMIN) == 1  # other accounts keep theirs
    restart(m)
    assert bob.get("/").header("Location") == "/login"
    assert logged_in(admin)
    # the new password logs in; the old one does not
    assert Web(m.ports["admin"]).login(BOB, BOB_PW).status != 303
    assert Web(m.ports["admin"]).login(BOB, "bob-new-pw-2").status == 303


def test_ctl_disable_then_enable_does_not_revive_a_session(mailroom):
    m = mailroom
    bob, admin = two_sessions(m)
    m.ctl("user", "set", BOB, "--disable")
    assert session_rows(m, BOB) == 0
    m.ctl("user", "set", BOB, "--enable")
    restart(m)
    assert bob.get("/").header("Location") == "/login"
    assert logged_in(admin)


def test_ctl_del_then_add_does_not_revive_a_session(mailroom):
    m = mailroom
    bob, admin = two_sessions(m)
    assert "deleted" in m.ctl("user", "del", BOB).stdout
    assert session_rows(m, BOB) == 0
    m.add_user(BOB, "someone-else-pw-3")
    restart(m)
    assert bob.get("/").header("Location") == "/login"
    assert logged_in(admin)


def test_ctl_set_other_fields_keeps_sessions(mailroom):
    m = mailroom
    bob, _ = two_sessions(m)
    m.ctl("user", "set", BOB, "--name", "Bob B")
    assert session_rows(m, BOB) == 1
    restart(m)
    assert logged_in(bob)


def test_ctl_passwd_ends_sessions_of_a_running_panel(mailroom):
    m = mailroom
    bob, admin = two_sessions(m)
    m.ctl("user", "passwd", BOB, input="bob-new-pw-2\n")
    assert bob.get("/").header("Location") == "/login"
    assert logged_in(admin)  # the other account's cached session still works


def test_ctl_disable_and_del_end_sessions_of_a_running_panel(mailroom):
    m = mailroom
    bob, admin = two_sessions(m)
    m.ctl("user", "set", BOB, "--disable")
    m.ctl("user", "set", BOB, "--enable")  # enabled again before bob's next request
    assert bob.get("/").header("Location") == "/login"
    assert logged_in(admin)
    assert bob.login(BOB, BOB_PW).status == 303
    assert logged_in(bob)
    assert "deleted" in m.ctl("user", "del", BOB).stdout
    m.add_user(BOB, BOB_PW)  # re-created, same password, before the next request
    assert bob.get("/").header("Location") == "/login"
    assert logged_in(admin)
