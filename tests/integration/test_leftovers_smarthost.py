"""mailroom-queued picks up a smarthost changed in the web panel without a
restart: it re-reads the settings rows at every queue run, logs
event=smarthost-changed once per change (never the password), and the next
message goes the new way: MX -> panel smarthost (TLS + AUTH) -> MX again.
A smarthost in the config file still wins and is never re-read."""
import time

from smtp_util import wait_for
from test_outbound import MX2, queue_rows, submit, out  # noqa: F401
from outbound_util import Smarthost, make_cert
from test_web_client import admin_web as panel

SECRET = "isp secret 9"


def set_smarthost(w, host, user="", password=""):
    fields = {"smarthost": host, "smarthost_user": user}
    if password:
        fields["smarthost_password"] = password
    r = w.submit("/settings", "/settings/outgoing", fields)
    assert r.status == 303, r


def smarthost_and_mx(m, tmp_path):
    cert, key = make_cert(tmp_path, "smarthost.test")
    port = m.ports["relay"]
    m.extra = {"queue": {"smarthost_ca": str(cert)}}  # no smarthost in the file
    m.write_config()
    m.start_dns("--host-record=smarthost.test,127.0.0.4", *MX2)
    sh = Smarthost("127.0.0.4", port, cert, key, "office@isp.test", SECRET)
    mx = m.sink("127.0.0.2")
    return sh, mx, f"smarthost.test:{port}"


def test_panel_smarthost_change_is_used_without_restart(out, tmp_path):
    m = out
    sh, mx, relay = smarthost_and_mx(m, tmp_path)
    try:
        w = panel(m)
        m.start("queued")
        assert "event=running smarthost=- " in m.log("queued")
        pid = m.pid("queued")

        submit(m, ["friend@remote.test"], subject="by mx first")
        assert wait_for(lambda: len(mx.messages()) == 1, 15), m.log("queued")
        assert wait_for(lambda: queue_rows(m) == [], 10)

        set_smarthost(w, relay, "office@isp.test", SECRET)
        m.wait_log("queued", f"event=smarthost-changed smarthost={relay} login=yes")
        submit(m, ["friend@remote.test"], subject="via the panel smarthost")
        assert wait_for(lambda: len(sh.messages) == 1, 15), m.log("queued")
        assert wait_for(lambda: queue_rows(m) == [], 10), m.log("queued")
        authed, _, rcpts, content = sh.messages[0]
        assert authed and rcpts == ["friend@remote.test"]
        assert b"Subject: via the panel smarthost" in content
        assert len(mx.messages()) == 1  # nothing more went by MX
        time.sleep(2.5)  # two more queue runs: no second change line
        assert m.log("queued").count("event=smarthost-changed") == 1

        set_smarthost(w, "")  # back to delivery by MX
        m.wait_log("queued", "event=smarthost-changed smarthost=- login=no")
        submit(m, ["friend@remote.test"], subject="by mx again")
        assert wait_for(lambda: len(mx.messages()) == 2, 15), m.log("queued")
        assert len(sh.messages) == 1
        assert m.pid("queued") == pid and m.procs["queued"].poll() is None  # no restart
        log = m.log("queued")
        assert log.count("event=smarthost-changed") == 2
        assert SECRET not in log
    finally:
        sh.stop()


def test_changed_password_is_used_at_the_next_run(out, tmp_path):
    m = out
    sh, _, relay = smarthost_and_mx(m, tmp_path)
    try:
        w = panel(m)
        set_smarthost(w, relay, "office@isp.test", "wrong password")
        m.start("queued")
        assert f"event=smarthost-from-settings smarthost={relay}" in m.log("queued")
        submit(m, ["friend@remote.test"], subject="after the fix")
        assert wait_for(lambda: "event=smarthost-auth-failed" in m.log("queued"), 15)
        assert sh.messages == []
        set_smarthost(w, relay, "office@isp.test", SECRET)
        m.wait_log("queued", f"event=smarthost-changed smarthost={relay} login=yes")
        m.ctl("queue", "flush")
        assert wait_for(lambda: len(sh.messages) == 1, 15), m.log("queued")
        log = m.log("queued")
        assert SECRET not in log and "wrong password" not in log
    finally:
        sh.stop()


def test_config_file_smarthost_wins_over_a_panel_change(out, tmp_path):
    m = out
    sh, mx, relay = smarthost_and_mx(m, tmp_path)
    try:
        m.extra["smtp"] = {"smarthost": relay, "smarthost_user": "office@isp.test",
                           "smarthost_password": SECRET}
        m.write_config()
        w = panel(m)
        m.start("queued")
        set_smarthost(w, "other.test:25")
        time.sleep(2.5)
        submit(m, ["friend@remote.test"], subject="config file wins")
        assert wait_for(lambda: len(sh.messages) == 1, 15), m.log("queued")
        assert "event=smarthost-changed" not in m.log("queued")
        assert mx.messages() == []
    finally:
        sh.stop()
