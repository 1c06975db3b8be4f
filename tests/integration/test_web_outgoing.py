"""Outgoing mail on the Settings page: the smarthost (host:port, user, a
write-only password) and the largest message size, kept as the store
settings mailroom-queued and mailroom-smtpd read (smarthost.host/.user/
.password, smtp.message_size_limit in bytes). Errors sit next to their
field, every change is in the audit log without the password, and
mailroom-queued started afterwards runs with the smarthost set here."""
import re
import sqlite3

from test_web_client import Web, admin_web as admin

SECRET = "relay-Secret-77"


def settings(m):
    with sqlite3.connect(m.db_path, timeout=10) as c:
        return dict(c.execute("SELECT key, value FROM settings WHERE key LIKE 'smarthost.%' "
                              "OR key = 'smtp.message_size_limit'"))


def test_bad_values_are_refused_next_to_their_field(mailroom):
    w = admin(mailroom)
    r = w.submit("/settings", "/settings/outgoing",
                 {"smarthost": "smtp.provider.example", "size_limit": "10"})
    assert r.status == 400
    assert 'id="smarthost-err" role="alert">Write the smarthost as name:port' in r.text
    assert re.search(r'id="smarthost"[^>]*value="smtp.provider.example" aria-invalid="true"',
                     r.text)
    r = w.submit("/settings", "/settings/outgoing",
                 {"smarthost": "smtp.provider.example:99999"})
    assert r.status == 400 and 'id="smarthost-err"' in r.text
    r = w.submit("/settings", "/settings/outgoing",
                 {"smarthost": "smtp.provider.example:587", "size_limit": "lots"})
    assert r.status == 400 and 'id="size_limit-err" role="alert">' in r.text
    assert 'value="smtp.provider.example:587"' in r.text  # what was typed stays
    r = w.submit("/settings", "/settings/outgoing",
                 {"smarthost": "<b>x</b>:25"})
    assert r.status == 400 and "<b>x</b>" not in r.text
    r = w.submit("/settings", "/settings/outgoing",
                 {"smarthost": "a.example:25", "smarthost_password": "pw-without-user"})
    assert r.status == 400 and 'id="smarthost_user-err"' in r.text
    assert settings(mailroom) == {}
    # CSRF as every form; a user may not
    assert w.post("/settings/outgoing", {"smarthost": "a.example:25"}).status == 403
    mailroom.add_user("u@example.test", "user-pw-12")
    u = Web(w.port)
    assert u.login("u@example.test", "user-pw-12").status == 303
    r = u.post("/settings/outgoing", {"smarthost": "a.example:25", "csrf": u.csrf("/me")})
    assert r.status == 403 and settings(mailroom) == {}


def test_smarthost_set_in_the_panel_reaches_queued(mailroom):
    m = mailroom
    w = admin(m)
    page = w.get("/settings").text
    assert 'id="smarthost-password-state">not set<' in page
    relay = f"127.0.0.1:{m.ports['relay']}"
    r = w.submit("/settings", "/settings/outgoing",
                 {"smarthost": relay, "smarthost_user": "office@provider.test",
                  "smarthost_password": SECRET, "size_limit": "10"})
    assert r.status == 303, r
    page = w.get("/settings").text
    assert "Outgoing mail settings saved." in page
    assert 'id="smarthost-password-state">set<' in page
    assert SECRET not in page
    assert f'value="{relay}"' in page and 'name="size_limit"' in page
    assert re.search(r'id="size_limit"[^>]*value="10"', page)
    assert settings(m) == {"smarthost.host": relay, "smarthost.user": "office@provider.test",
                           "smarthost.password": SECRET,
                           "smtp.message_size_limit": str(10 * 1024 * 1024)}
    token = m.ctl("token", "add", "t").stdout.strip()
    got = w.api("GET", "/settings", token).json()
    assert got == {"smarthost": relay, "smarthost_user": "office@provider.test",
                   "smarthost_password_set": True, "message_size_limit": 10485760,
                   "message_size_limit_from_config": False}
    audit = w.get("/audit").text
    assert "settings-outgoing" in audit and relay in audit and SECRET not in audit
    assert SECRET not in m.log("webadmin")

    # saving again with the password field empty keeps the password
    r = w.submit("/settings", "/settings/outgoing",
                 {"smarthost": relay, "smarthost_user": "office@provider.test",
                  "size_limit": ""})
    assert r.status == 303
    s = settings(m)
    assert s["smarthost.password"] == SECRET and s["smtp.message_size_limit"] == ""
    got = w.api("GET", "/settings", token).json()
    assert got["message_size_limit_from_config"] is True
    assert got["message_size_limit"] == 25 * 1024 * 1024  # the config's default

    m.start("queued")
    assert f"event=running smarthost={relay} " in m.log("queued")
    assert SECRET not in m.log("queued")

    # removing the password
    r = w.submit("/settings", "/settings/outgoing",
                 {"smarthost": relay, "smarthost_user": "office@provider.test",
                  "smarthost_password_clear": "1"})
    assert r.status == 303
    assert settings(m)["smarthost.password"] == ""
    assert 'id="smarthost-password-state">not set<' in w.get("/settings").text


def test_size_limit_set_in_the_panel_reaches_smtpd(mailroom):
    """End to end with H1's smtpd: the page's MB value becomes SIZE in EHLO and
    the bound on DATA after smtpd re-reads its settings (SIGHUP here; it also
    re-reads every 15 s); emptying the field gives the config's limit back."""
    import signal

    from smtp_util import start_smtpd
    from test_smtp_sizelimit import ehlo_size, send

    m = mailroom
    m.extra.setdefault("smtp", {})["message_size_limit"] = "3000000"
    start_smtpd(m)
    w = admin(m)
    assert ehlo_size(m) == 3_000_000
    r = w.submit("/settings", "/settings/outgoing", {"size_limit": "1"})
    assert r.status == 303, r
    before = m.log("smtpd").count("event=size-limit ")
    m.procs["smtpd"].send_signal(signal.SIGHUP)
    m.wait_log("smtpd", "event=size-limit ", count=before + 1)
    assert ehlo_size(m) == 1024 * 1024
    code, text = send(m, 1_500_000)  # under the config's limit, over the panel's
    assert code == 552, (code, text)
    assert send(m, 500_000)[0] == 250
    r = w.submit("/settings", "/settings/outgoing", {"size_limit": ""})
    assert r.status == 303
    before = m.log("smtpd").count("event=size-limit ")
    m.procs["smtpd"].send_signal(signal.SIGHUP)
    m.wait_log("smtpd", "event=size-limit ", count=before + 1)
    assert ehlo_size(m) == 3_000_000


def test_a_smarthost_in_the_config_file_is_pointed_out(mailroom):
    """queued prefers [smtp] smarthost from the config file: the page says so
    instead of letting the admin wonder why the panel's is not used."""
    m = mailroom
    m.extra.setdefault("smtp", {})["smarthost"] = "relay.isp.test:25"
    m.write_config()
    w = admin(m)
    page = w.get("/settings").text
    assert 'id="smarthost-config"' in page and "relay.isp.test:25" in page
    r = w.submit("/settings", "/settings/outgoing", {"smarthost": "other.test:587"})
    assert r.status == 303
    m.start("queued")
    assert "event=running smarthost=relay.isp.test:25 " in m.log("queued")
