"""The JSON API with tokens from `mailroomctl token add`: auth, CRUD of
domains, accounts, aliases and the queue, errors as JSON, audit entries."""
import time

import pytest

from test_web_client import Web

ADMIN = "admin@example.test"


@pytest.fixture
def api(mailroom):
    mailroom.add_user(ADMIN, "admin-pw-1", role="admin")
    token = mailroom.ctl("token", "add", "ci").stdout.strip()
    mailroom.start("webadmin")
    return mailroom, Web(mailroom.ports["admin"]), token


def test_token_verb_lists_and_revokes(api):
    m, w, token = api
    assert token.startswith("mrt_") and len(token) == 68
    assert "ci\t" in m.ctl("token", "list").stdout
    r = m.ctl("token", "add", "ci", check=False)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert token not in (m.dir / "data" / "mailroom.db").read_bytes().decode("latin-1")
    assert w.api("GET", "/domains", token).status == 200
    m.ctl("token", "del", "ci")
    r = w.api("GET", "/domains", token)
    assert r.status == 401 and "not valid" in r.json()["error"]
    r = m.ctl("token", "del", "ci", check=False)
    assert r.returncode == 1


def test_api_needs_a_token(api):
    m, w, token = api
    r = w.api("GET", "/domains")
    assert r.status == 401
    assert r.header("Content-Type") == "application/json"
    assert "Bearer" in r.json()["error"]
    assert r.header("WWW-Authenticate").startswith("Bearer")
    r = w.api("GET", "/domains", "mrt_" + "0" * 64)
    assert r.status == 401
    # a logged-in browser session is not an API credential
    assert w.login(ADMIN, "admin-pw-1").status == 303
    r = w.request("GET", "/api/v1/domains")
    assert r.status == 401
    r = w.api("POST", "/accounts", None, {"address": "x@example.test"})
    assert r.status == 401
    assert "x@example.test" not in m.ctl("user", "list").stdout


def test_api_bad_tokens_are_rate_limited(api):
    m, w, token = api
    bad = "mrt_" + "1" * 64
    for _ in range(3):
        assert w.api("GET", "/queue", bad).status == 401
    # the delays grow (1 s, 2 s, 4 s): wait each out, fail again
    for wait in (1, 2):
        time.sleep(wait + 0.1)
        assert w.api("GET", "/queue", bad).status == 401
    r = w.api("GET", "/queue", token)  # inside a 4 s window: refused
    assert r.status == 429 and 3 <= int(r.header("Retry-After")) <= 4


def test_api_domains(api):
    m, w, token = api
    r = w.api("POST", "/domains", token, {"name": "New.Test"})
    assert r.status == 201 and r.json() == {"name": "new.test"}
    names = [d["name"] for d in w.api("GET", "/domains", token).json()]
    assert names == ["example.test", "new.test"]
    assert w.api("POST", "/domains", token, {"name": "new.test"}).status == 409
    r = w.api("POST", "/domains", token, {"name": "bad domain"})
    assert r.status == 400 and "error" in r.json()
    r = w.api("DELETE", "/domains/example.test", token)
    assert r.status == 409 and "force" in r.json()["error"]
    assert w.api("DELETE", "/domains/new.test", token).status == 200
    assert w.api("DELETE", "/domains/new.test", token).status == 404


def test_api_accounts_crud(api):
    m, w, token = api
    r = w.api("POST", "/accounts", token,
              {"address": "Anna@Example.test", "password": "anna-pw-123",
               "quota": 10485760, "display_name": "Anna <A>"})
    assert r.status == 201, r
    a = r.json()
    assert a["address"] == "anna@example.test" and a["quota"] == 10485760
    assert a["display_name"] == "Anna <A>" and a["role"] == "user" and a["enabled"]
    assert "password" not in a
    r = w.api("POST", "/accounts", token, {"address": "bob@example.test"})
    assert r.status == 201 and len(r.json()["password"]) == 20
    bob_pw = r.json()["password"]
    assert Web(w.port).login("bob@example.test", bob_pw).status == 303
    assert w.api("POST", "/accounts", token, {"address": "anna@example.test"}).status == 409
    r = w.api("POST", "/accounts", token, {"address": "x@elsewhere.test"})
    assert r.status == 400 and "domain" in r.json()["error"]
    assert w.api("POST", "/accounts", token, {"address": "not an address"}).status == 400
    assert w.api("POST", "/accounts", token, {"address": "q@example.test",
                                              "quota": "big"}).status == 400
    r = w.request("POST", "/api/v1/accounts", '{"address":"a@example.test","address":"b@example.test"}',
                  {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert r.status == 400
    r = w.request("POST", "/api/v1/accounts", "address=a@example.test",
                  {"Authorization": f"Bearer {token}",
                   "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415

    listed = [a["address"] for a in w.api("GET", "/accounts", token).json()]
    assert "anna@example.test" in listed and "bob@example.test" in listed
    r = w.api("GET", "/accounts/anna@example.test", token)
    assert r.status == 200 and r.json()["display_name"] == "Anna <A>"
    assert w.api("GET", "/accounts/nobody@example.test", token).status == 404

    r = w.api("PATCH", "/accounts/anna@example.test", token,
              {"display_name": "Anna E.", "quota": 0, "enabled": False})
    assert r.status == 200
    assert r.json()["display_name"] == "Anna E." and r.json()["enabled"] is False
    assert Web(w.port).login("anna@example.test", "anna-pw-123").status == 401
    r = w.api("PATCH", "/accounts/anna@example.test", token,
              {"enabled": True, "password": "anna-new-pw"})
    assert r.status == 200
    assert Web(w.port).login("anna@example.test", "anna-new-pw").status == 303
    assert w.api("PATCH", "/accounts/anna@example.test", token,
                 {"role": "emperor"}).status == 400

    assert w.api("DELETE", "/accounts/anna@example.test", token).status == 200
    assert w.api("DELETE", "/accounts/anna@example.test", token).status == 404
    assert "anna@example.test" not in m.ctl("user", "list").stdout

    assert w.login(ADMIN, "admin-pw-1").status == 303
    audit = w.get("/audit").text
    assert "token:ci" in audit and "account-del" in audit


def test_api_aliases_and_catch_all(api):
    m, w, token = api
    m.add_user("anna@example.test", "anna-pw-123")
    r = w.api("POST", "/aliases", token, {"address": "sales@example.test",
                                          "targets": ["anna@example.test", "ext@partner.test"]})
    assert r.status == 201 and len(r.json()) == 2
    r = w.api("POST", "/aliases", token, {"address": "@example.test",
                                          "target": "anna@example.test"})
    assert r.status == 201
    got = {(a["address"], a["target"]) for a in w.api("GET", "/aliases", token).json()}
    assert ("sales@example.test", "ext@partner.test") in got
    assert ("@example.test", "anna@example.test") in got
    assert w.api("POST", "/aliases", token, {"address": "x@nowhere.test",
                                             "target": "anna@example.test"}).status in (400, 404)
    assert w.api("POST", "/aliases", token, {"address": "y@example.test",
                                             "target": "not-an-address"}).status == 400
    assert w.api("DELETE", "/aliases/sales@example.test", token).status == 200
    assert w.api("DELETE", "/aliases/%40example.test", token).status == 200
    assert w.api("GET", "/aliases", token).json() == []


def test_api_queue(api):
    m, w, token = api
    r = w.api("GET", "/queue", token)
    assert r.status == 200 and r.json() == []
    assert w.api("POST", "/queue/12345/retry", token).status == 404
    assert w.api("DELETE", "/queue/12345", token).status == 404
    assert w.api("DELETE", "/queue/abc", token).status == 404


def test_api_unknown_paths_and_methods(api):
    m, w, token = api
    assert w.api("GET", "/nothing", token).status == 404
    r = w.api("PUT", "/domains", token, {"name": "x.test"})
    assert r.status == 405 and "error" in r.json()


def test_metrics_need_a_token_and_count(api):
    m, w, token = api
    m.add_user("a@example.test", "a-pw-12345")
    assert w.request("GET", "/metrics").status == 401
    r = w.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200 and r.header("Content-Type").startswith("text/plain")
    vals = dict(line.split() for line in r.text.splitlines() if not line.startswith("#"))
    assert vals["mailroom_accounts"] == "2"
    assert vals["mailroom_domains"] == "1"
    assert vals["mailroom_queue_length"] == "0"
    assert "mailroom_webadmin_sessions" in vals


def test_the_only_admin_cannot_be_removed(api):
    """Removing the last admin would reopen first-run setup to anyone."""
    m, w, token = api
    r = w.api("DELETE", "/accounts/admin@example.test", token)
    assert r.status == 409 and "only admin" in r.json()["error"]
    r = w.api("PATCH", "/accounts/admin@example.test", token, {"role": "user"})
    assert r.status == 409
    r = w.api("PATCH", "/accounts/admin@example.test", token, {"enabled": False})
    assert r.status == 409
    assert w.api("POST", "/accounts", token, {"address": "second@example.test",
                                              "role": "admin"}).status == 201
    assert w.api("PATCH", "/accounts/admin@example.test", token,
                 {"role": "user"}).status == 200
    assert Web(w.port).get("/setup").header("Location") == "/login"
