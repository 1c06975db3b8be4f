"""The web admin over real HTTPS: login, sessions, CSRF, roles, escaping,
request limits, first-run setup and the plain-HTTP redirector."""
import http.client
import re
import signal
import socket
import time

import pytest

from test_web_client import Web, raw_https

ADMIN = "admin@example.test"
ADMIN_PW = "admin-pw-1"


@pytest.fixture
def web(mailroom):
    mailroom.add_user(ADMIN, ADMIN_PW, role="admin")
    mailroom.start("webadmin")
    return mailroom, Web(mailroom.ports["admin"])


def test_anonymous_gets_login_page_with_security_headers(web):
    m, w = web
    r = w.get("/")
    assert r.status == 303 and r.header("Location") == "/login"
    r = w.get("/login")
    assert r.status == 200
    assert '<form class="stack" method="post" action="/login">' in r.text
    csp = r.header("Content-Security-Policy")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp
    assert r.header("X-Frame-Options") == "DENY"
    assert r.header("Referrer-Policy") == "no-referrer"
    assert r.header("Cache-Control") == "no-store"
    # no HSTS with the self-signed certificate (it would pin the name)
    assert r.header("Strict-Transport-Security") is None
    assert "<script" not in r.text
    css = w.get("/style.css")
    assert css.status == 200 and css.header("Content-Type").startswith("text/css")


def test_login_sets_strict_session_cookie_and_logout_ends_it(web):
    m, w = web
    r = w.login(ADMIN, ADMIN_PW)
    assert r.status == 303 and r.header("Location") == "/", r
    sid = [c for c in r.cookies() if c.startswith("mr_sid=")]
    assert len(sid) == 1
    value = sid[0].split(";")[0].split("=", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{64}", value)  # 256 random bits
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in sid[0], sid[0]
    r = w.get("/")
    assert r.status == 200 and "<h1>Dashboard</h1>" in r.text
    assert r.header("Cache-Control") == "no-store"
    assert "event=login " in m.log("webadmin")
    old = dict(w.cookies)
    r = w.submit("/", "/logout", {})
    assert r.status == 303 and r.header("Location") == "/login"
    assert "mr_sid" not in w.cookies
    w.cookies = old  # replaying the old cookie must not work any more
    assert w.get("/").header("Location") == "/login"


def test_bad_login_is_refused_without_a_session(web):
    m, w = web
    r = w.login(ADMIN, "wrong-password")
    assert r.status == 401
    assert "Wrong address or password." in r.text
    assert "mr_sid" not in w.cookies
    r = w.login("nobody@example.test", ADMIN_PW)
    assert r.status == 401 and "Wrong address or password." in r.text
    assert w.get("/").header("Location") == "/login"
    log = m.log("webadmin")
    assert 'event=login-failed' in log
    assert "wrong-password" not in log  # never a password in the log


def test_login_rate_limit_grows_and_refuses_even_the_right_password(web):
    m, w = web
    for _ in range(3):
        assert w.login(ADMIN, "nope-nope").status == 401
    # from the third failure on, each attempt waits 1, 2, 4 ... seconds
    for wait in (1, 2):
        time.sleep(wait + 0.1)
        assert w.login(ADMIN, "nope-nope").status == 401
    r = w.login(ADMIN, ADMIN_PW)  # inside the 4 s window: not even checked
    assert r.status == 429, r
    assert "Too many failed attempts" in r.text
    assert 3 <= int(r.header("Retry-After")) <= 4
    assert "event=login-throttled" in m.log("webadmin")


def test_login_form_needs_its_csrf_token(web):
    m, w = web
    w.get("/login")  # gets the mr_pre cookie
    r = w.post("/login", {"address": ADMIN, "password": ADMIN_PW})
    assert r.status == 403
    assert "mr_sid" not in w.cookies
    # a token from another browser (another mr_pre cookie) does not fit either
    other = Web(w.port)
    token = other.csrf("/login")
    r = w.post("/login", {"address": ADMIN, "password": ADMIN_PW, "csrf": token})
    assert r.status == 403


def test_state_changes_need_the_session_csrf_token(web):
    m, w = web
    assert w.login(ADMIN, ADMIN_PW).status == 303
    r = w.post("/domains/add", {"domain": "csrf.test"})
    assert r.status == 403
    r = w.post("/domains/add", {"domain": "csrf.test", "csrf": "0" * 64})
    assert r.status == 403
    assert "csrf.test" not in m.ctl("domain", "list").stdout
    r = w.submit("/domains", "/domains/add", {"domain": "csrf.test"})
    assert r.status == 303
    assert "csrf.test" in m.ctl("domain", "list").stdout
    page = w.get("/domains").text
    assert "Domain csrf.test added." in page
    audit = w.get("/audit").text
    assert "domain-add" in audit and "csrf.test" in audit and ADMIN in audit


def test_user_reaches_only_self_service(web):
    m, w = web
    m.add_user("staff@example.test", "staff-pw-1")
    r = w.login("staff@example.test", "staff-pw-1")
    assert r.status == 303 and r.header("Location") == "/me"
    assert w.get("/").header("Location") == "/me"
    me = w.get("/me")
    assert me.status == 200 and "staff@example.test" in me.text
    assert 'href="/domains"' not in me.text
    for page in ("/domains", "/accounts", "/aliases", "/queue", "/audit", "/dns",
                 "/accounts/edit?address=admin@example.test"):
        assert w.get(page).status == 403, page
    token = w.csrf("/me")  # a valid token of this user's own session
    r = w.post("/domains/add", {"domain": "evil.test", "csrf": token})
    assert r.status == 403
    r = w.post("/accounts/password", {"address": ADMIN, "password": "taken-over",
                                      "csrf": token})
    assert r.status == 403
    assert "evil.test" not in m.ctl("domain", "list").stdout
    # the user's own password change works and needs the current one
    r = w.post("/me/password", {"current": "wrong", "password": "new-pass-22",
                                "password2": "new-pass-22", "csrf": token})
    assert "not right" in w.get("/me").text
    r = w.post("/me/password", {"current": "staff-pw-1", "password": "new-pass-22",
                                "password2": "new-pass-22", "csrf": token})
    assert r.status == 303 and "password was changed" in w.get("/me").text
    assert Web(w.port).login("staff@example.test", "new-pass-22").status == 303


def test_domain_admin_sees_only_their_domain(web):
    m, w = web
    m.ctl("domain", "add", "other.test")
    m.add_user("boss@example.test", "boss-pw-12", role="domain-admin")
    m.add_user("anna@example.test", "anna-pw-12")
    m.add_user("olaf@other.test", "olaf-pw-12")
    assert w.login("boss@example.test", "boss-pw-12").status == 303
    page = w.get("/accounts").text
    assert "anna@example.test" in page and "olaf@other.test" not in page
    assert w.get("/domains").status == 403
    assert w.get("/accounts/edit?address=olaf@other.test").status == 403
    assert w.get("/accounts/edit?address=admin@example.test").status == 403
    assert w.get("/accounts/edit?address=anna@example.test").status == 200
    r = w.submit("/accounts", "/accounts/add",
                 {"local": "x", "domain": "other.test", "password": "xxxxxxxx1"})
    assert r.status == 403
    r = w.submit("/accounts", "/accounts/add",
                 {"local": "y", "domain": "example.test", "password": "yyyyyyyy1",
                  "role": "admin"})
    assert r.status == 403
    r = w.submit("/accounts", "/accounts/add",
                 {"local": "new", "domain": "example.test", "password": "newnew-12"})
    assert r.status == 303
    assert "new@example.test" in m.ctl("user", "list").stdout


def test_admin_gives_a_domain_admin_more_domains(web):
    m, w = web
    for d in ("other.test", "third.test"):
        m.ctl("domain", "add", d)
    m.add_user("boss@example.test", "boss-pw-12", role="domain-admin")
    m.add_user("olaf@other.test", "olaf-pw-12")
    m.add_user("tina@third.test", "tina-pw-12")
    assert w.login(ADMIN, ADMIN_PW).status == 303
    edit = "/accounts/edit?address=boss@example.test"
    r = w.submit(edit, "/accounts/edit", {"address": "boss@example.test", "name": "Boss",
                                          "quota": "0", "enabled": "1",
                                          "role": "domain-admin", "domains": "nope.test"})
    assert "not one of this server" in w.get(edit).text
    r = w.submit(edit, "/accounts/edit", {"address": "boss@example.test", "name": "Boss",
                                          "quota": "0", "enabled": "1",
                                          "role": "domain-admin", "domains": "Other.test"})
    assert 'name="domains" value="other.test"' in w.get(edit).text
    b = Web(w.port)
    assert b.login("boss@example.test", "boss-pw-12").status == 303
    page = b.get("/accounts").text
    assert "olaf@other.test" in page and "tina@third.test" not in page
    assert b.get("/accounts/edit?address=olaf@other.test").status == 200
    assert b.get("/accounts/edit?address=tina@third.test").status == 403
    assert "other.test" in b.get("/").text
    r = b.submit("/aliases", "/aliases/add", {"address": "team@other.test",
                                              "targets": "olaf@other.test"})
    assert r.status == 303
    r = b.submit("/aliases", "/aliases/add", {"address": "team@third.test",
                                              "targets": "olaf@other.test"})
    assert r.status == 403


def test_admin_creates_account_and_it_can_log_in(web):
    m, w = web
    assert w.login(ADMIN, ADMIN_PW).status == 303
    r = w.submit("/accounts", "/accounts/add",
                 {"local": "Anna", "domain": "example.test", "name": "Anna Example",
                  "password": "anna-pw-123", "quota": "50"})
    assert r.status == 303
    page = w.get("/accounts").text
    assert "Account anna@example.test created." in page
    assert "anna-pw-123" not in page
    assert "Anna Example" in page and "50.0 MB" in page
    # generated password: shown once, then never again
    r = w.submit("/accounts", "/accounts/add", {"local": "bob", "domain": "example.test"})
    page = w.get("/accounts").text
    pw = re.search(r"Its password is (\S+) - write it down", page).group(1)
    assert pw not in w.get("/accounts").text
    assert Web(w.port).login("anna@example.test", "anna-pw-123").status == 303
    assert Web(w.port).login("bob@example.test", pw).status == 303


def test_display_name_with_markup_is_escaped_everywhere(web):
    m, w = web
    evil = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"
    assert w.login(ADMIN, ADMIN_PW).status == 303
    r = w.submit("/accounts", "/accounts/add",
                 {"local": "xss", "domain": "example.test", "name": evil,
                  "password": "xss-pw-123"})
    assert r.status == 303
    for page in ("/accounts", "/accounts/edit?address=xss@example.test"):
        text = w.get(page).text
        assert "<script>alert(1)" not in text and "<img src=x" not in text, page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img" in text, page
    t = Web(w.port)
    assert t.login("xss@example.test", "xss-pw-123").status == 303
    assert "<script>" not in t.get("/me").text


def test_disabling_an_account_ends_its_sessions(web):
    m, w = web
    m.add_user("temp@example.test", "temp-pw-12")
    t = Web(w.port)
    assert t.login("temp@example.test", "temp-pw-12").status == 303
    assert t.get("/me").status == 200
    assert w.login(ADMIN, ADMIN_PW).status == 303
    r = w.submit("/accounts/edit?address=temp@example.test", "/accounts/edit",
                 {"address": "temp@example.test", "name": "Temp", "quota": "0"})
    assert r.status == 303  # no "enabled" box: disabled
    assert t.get("/me").header("Location") == "/login"
    assert Web(w.port).login("temp@example.test", "temp-pw-12").status == 401


def test_duplicate_content_length_is_refused(web):
    m, w = web
    req = (b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: 5\r\nContent-Length: 40\r\nConnection: close\r\n\r\naaaaa")
    out = raw_https(m.ports["admin"], req)
    assert out.startswith(b"HTTP/1.1 400"), out[:200]
    req = (b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n")
    out = raw_https(m.ports["admin"], req)
    assert out.startswith(b"HTTP/1.1 400"), out[:200]


def test_oversized_body_is_refused(web):
    m, w = web
    big = "a=" + "x" * (70 * 1024)
    r = w.request("POST", "/login", big, {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 413
    # a browser sends the whole body before it reads the answer: it must
    # get the 413, not a connection closed under it while it sends
    for size in (300 * 1024, 900 * 1024):
        r = w.request("POST", "/login", "a=" + "x" * size,
                      {"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 413, size
    # a client that lies about the length and streams chunks still stops at the cap
    req = (b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (8192, b"x" * 8192)
    out = raw_https(m.ports["admin"], req + chunk * 10 + b"0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413"), out[:200]
    assert m.procs["webadmin"].poll() is None


def test_bad_form_encoding_and_unknown_pages(web):
    m, w = web
    r = w.request("POST", "/login", "a=%zz", {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 400
    assert w.get("/no/such/page").status == 404
    assert w.request("DELETE", "/login").status == 405


def test_first_run_setup_wizard(mailroom):
    m = mailroom
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.get("/").header("Location") == "/setup"
    assert w.get("/login").header("Location") == "/setup"
    page = w.get("/setup")
    assert page.status == 200 and 'name="hostname"' in page.text
    r = w.submit("/setup", "/setup", {"domain": "Firma.test", "hostname": "mx.firma.test",
                                      "local": "chef", "password": "short",
                                      "password2": "short"})
    assert r.status == 400 and "at least 8 characters" in r.text
    r = w.submit("/setup", "/setup", {"domain": "Firma.test", "hostname": "mx.firma.test",
                                      "local": "chef", "password": "setup-pw-1",
                                      "password2": "setup-pw-1"})
    assert r.status == 303 and r.header("Location").startswith("/dns"), r
    assert w.get("/dns").status == 200  # logged in as the new admin
    users = m.ctl("user", "list").stdout
    assert "chef@firma.test" in users and "admin" in users
    assert w.get("/setup").header("Location") == "/login"
    assert Web(m.ports["admin"]).login("chef@firma.test", "setup-pw-1").status == 303


def test_plain_http_listener_only_redirects(mailroom):
    import conftest
    m = mailroom
    hport = conftest.free_port()
    m.extra = {"admin": {"http_listen": f"127.0.0.1:{hport}"}}
    m.write_config()
    m.start("webadmin")
    conftest.wait_port(hport)
    c = http.client.HTTPConnection("127.0.0.1", hport, timeout=10)
    c.request("GET", "/accounts?x=1", headers={"Host": "mail.example.test:8080"})
    r = c.getresponse()
    assert r.status == 301
    assert r.getheader("Location") == f"https://mail.example.test:{m.ports['admin']}/"
    c.close()
    c = http.client.HTTPConnection("127.0.0.1", hport, timeout=10)
    c.request("GET", "/", headers={"Host": "evil\"<x>.test"})
    r = c.getresponse()
    assert r.getheader("Location") == f"https://{m.hostname}:{m.ports['admin']}/"


def test_sigterm_stops_cleanly_during_requests(web):
    m, w = web
    assert w.login(ADMIN, ADMIN_PW).status == 303
    assert m.stop("webadmin", signal.SIGTERM) == 0
    assert "event=stopped" in m.log("webadmin")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", m.ports["admin"]), timeout=2).close()


def test_idle_session_expires(mailroom, monkeypatch):
    m = mailroom
    m.add_user(ADMIN, ADMIN_PW, role="admin")
    monkeypatch.setenv("MAILROOM_WEBADMIN_SESSION_IDLE", "2")
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login(ADMIN, ADMIN_PW).status == 303
    for _ in range(3):  # activity keeps it alive past the idle time
        time.sleep(1)
        assert w.get("/").status == 200
    time.sleep(3)
    assert w.get("/").header("Location") == "/login"
    r = w.post("/domains/add", {"domain": "late.test", "csrf": "0" * 64})
    assert r.status == 403


def test_account_form_errors_sit_next_to_the_field(web):
    m, w = web
    assert w.login(ADMIN, ADMIN_PW).status == 303
    r = w.submit("/accounts", "/accounts/add",
                 {"local": "zoe", "domain": "example.test", "name": "Zoë <Z>",
                  "quota": "lots"})
    assert r.status == 400
    assert 'id="quota-err" role="alert">The size limit must be a whole number' in r.text
    assert re.search(r'id="quota"[^>]*value="lots" aria-invalid="true"', r.text)
    assert 'value="zoe"' in r.text and 'value="Zoë &lt;Z&gt;"' in r.text
    r = w.submit("/accounts", "/accounts/add",
                 {"local": "bad local", "domain": "example.test"})
    assert r.status == 400 and 'id="local-err"' in r.text
    r = w.submit("/accounts", "/accounts/add",
                 {"local": "admin", "domain": "example.test", "password": "whatever-1"})
    assert r.status == 409 and "admin@example.test already exists." in r.text
