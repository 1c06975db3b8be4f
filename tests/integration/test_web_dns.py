"""The DNS records page against a loopback dnsmasq: right, missing and
wrong records, each with the value found and the value wanted."""
import re
import time

from test_web_client import Web

ADMIN = "admin@example.test"


def rows(html):
    """{(type, name): (found, status)} from the DNS page's tables."""
    out = {}
    for tr in re.findall(r"<tr><td>(.*?)</tr>", html, re.S):
        cells = re.findall(r"(?:^|<td>)(.*?)</td>", tr, re.S)
        text = [re.sub(r"<[^>]+>", " ", c).strip() for c in cells]
        if len(text) >= 5:
            out[(text[0], text[1])] = (text[3], text[4])
    return out


def test_dns_page_right_missing_wrong(mailroom):
    m = mailroom
    m.ctl("domain", "add", "other.test")
    m.add_user(ADMIN, "admin-pw-1", role="admin")
    m.start_dns(
        "--mx-host=example.test,mail.example.test,10",
        "--host-record=mail.example.test,127.0.0.1",
        "--txt-record=example.test,v=spf1 mx -all",
        "--cname=autoconfig.example.test,mail.example.test",
        "--mx-host=other.test,mx.elsewhere.test,10",
        "--txt-record=other.test,v=spf1 ip4:192.0.2.1 -all",
        "--txt-record=_dmarc.other.test,v=DMARC1; p=none",
    )
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login(ADMIN, "admin-pw-1").status == 303
    t0 = time.monotonic()
    page = w.get("/dns")
    took = time.monotonic() - t0
    assert page.status == 200
    got = rows(page.text)
    assert got[("A", "mail.example.test")] == ("127.0.0.1", "right")
    assert got[("PTR", "127.0.0.1")][1] in ("right", "wrong")  # dnsmasq adds a PTR
    assert got[("MX", "example.test")] == ("10 mail.example.test", "right")
    assert got[("TXT (SPF)", "example.test")] == ("v=spf1 mx -all", "right")
    assert got[("TXT (DMARC)", "_dmarc.example.test")] == ("nothing", "missing")
    assert got[("CNAME", "autoconfig.example.test")] == ("127.0.0.1", "right")
    assert got[("MX", "other.test")] == ("10 mx.elsewhere.test", "wrong")
    assert got[("TXT (SPF)", "other.test")][1] == "wrong"
    assert got[("TXT (DMARC)", "_dmarc.other.test")][1] == "right"
    assert got[("CNAME", "autoconfig.other.test")] == ("nothing", "missing")
    assert "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test" in page.text
    assert took < 5, took


def test_dns_page_says_when_dns_does_not_answer(mailroom):
    m = mailroom
    m.add_user(ADMIN, "admin-pw-1", role="admin")
    m.stop_dns()  # nothing answers on dns_servers now
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login(ADMIN, "admin-pw-1").status == 303
    t0 = time.monotonic()
    page = w.get("/dns")
    assert page.status == 200 and time.monotonic() - t0 < 6
    assert "could not check" in page.text
    # the panel stays usable while a lookup waits
    assert w.get("/accounts").status == 200
