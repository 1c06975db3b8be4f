"""The Message trace page: messages offered to the real mailroom-smtpd (DNS
from a loopback dnsmasq) show up newest first with what SPF, DKIM, DMARC
found and, for a refused one, the reply the sender got; the address filter
narrows them; only admins see the page."""
import smtplib
import time

import pytest

from smtp_util import start_smtpd
from test_smtp_trust import dns_records, message, rsa, sign  # noqa: F401 (fixture)
from test_web_client import Web

ADMIN = "admin@example.test"


def trace_rows(html):
    """[(row html)] of the trace table, in page order."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.split("</tr>")[:-1]


def wait_trace(w, n, path="/trace", timeout=8.0):
    deadline = time.monotonic() + timeout
    while True:
        page = w.get(path).text
        rows = trace_rows(page)
        if len(rows) >= n or time.monotonic() > deadline:
            return page, rows
        time.sleep(0.2)


def test_refused_message_shows_with_its_reply(mailroom, monkeypatch, rsa):  # noqa: F811
    m = mailroom
    m.start_dns(*dns_records(rsa[1]))
    start_smtpd(m, monkeypatch)
    m.add_user(ADMIN, "admin-pw-1", role="admin")
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login(ADMIN, "admin-pw-1").status == 303
    page = w.get("/trace")
    assert page.status == 200 and "No messages have arrived yet." in page.text

    with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("x@strict.test", ["bob@example.test"], message("X <x@strict.test>"))
        assert e.value.smtp_code == 550
        refused_reply = "550 " + e.value.smtp_error.decode()
    good = sign(message("Carol <carol@signer.test>", "signed"), rsa[0])
    with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=20) as s:
        s.ehlo("mx.sender.test")
        s.sendmail("carol@signer.test", ["alice@example.test"], good)

    page, rows = wait_trace(w, 2)
    assert len(rows) == 2, page
    newest, refused = rows
    assert "carol@signer.test" in newest and 'class="badge ok">accepted<' in newest
    assert '<b>DKIM</b> <span class="badge ok">pass</span>' in newest
    assert "x@strict.test" in refused and "bob@example.test" in refused
    assert 'class="badge bad">refused<' in refused
    assert "DMARC policy of strict.test" in refused_reply
    assert f"<code>{refused_reply}</code>" in refused
    assert '<b>DMARC</b> <span class="badge bad">fail</span> p=reject' in refused
    assert '<b>SPF</b> <span class="badge bad">fail</span>' in refused
    assert "127.0.0.1" in refused and "mx.sender.test" in refused

    # filters: an address, a domain, a bare domain, nothing matching
    for q in ("x@strict.test", "X@Strict.test", "@strict.test", "strict.test"):
        _, got = wait_trace(w, 1, "/trace?address=" + q)
        assert len(got) == 1 and "x@strict.test" in got[0], q
    _, got = wait_trace(w, 1, "/trace?address=alice@example.test")
    assert len(got) == 1 and "carol@signer.test" in got[0]
    page = w.get("/trace?address=@nowhere.test").text
    assert trace_rows(page) == [] and "No messages match." in page
    r = w.get("/trace?address=a%20b")
    assert r.status == 400 and 'id="address-err" role="alert"' in r.text
    r = w.get("/trace?address=%3Cscript%3E")
    assert "<script>" not in r.text and "&lt;script&gt;" in r.text

    # the same through the API, for scripts
    token = m.ctl("token", "add", "t").stdout.strip()
    got = w.api("GET", "/trace", token).json()
    assert [t["outcome"] for t in got] == ["accepted", "refused"]
    assert got[1]["reply"] == refused_reply and got[1]["dmarc"].startswith("fail p=reject")
    assert got[1]["sender"] == "x@strict.test" and got[0]["dkim"].startswith("pass")
    got = w.api("GET", "/trace?address=@strict.test", token).json()
    assert len(got) == 1 and got[0]["rcpts"] == "bob@example.test"
    assert w.api("GET", f"/trace?before={got[0]['id']}", token).json() == []
    assert len(w.api("GET", "/trace?limit=1", token).json()) == 1
    r = w.api("GET", "/trace?limit=0", token)
    assert r.status == 400 and "limit" in r.json()["error"]
    assert w.api("GET", "/trace").status == 401

    # admins only
    m.add_user("u@example.test", "user-pw-12")
    u = Web(w.port)
    assert u.login("u@example.test", "user-pw-12").status == 303
    assert u.get("/trace").status == 403
