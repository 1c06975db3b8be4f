"""DKIM rows on the DNS records page, against a loopback dnsmasq: the TXT
record each key made by `mailroomctl dkim keygen` wants (the same text
`mailroomctl dkim show` prints), looked up live and shown right, missing
or wrong; a domain without a key says how to make one."""
import re

from test_web_client import Web
from test_web_dns import rows

ADMIN = "admin@example.test"


def chunks(s, n=200):
    return [s[i:i + n] for i in range(0, len(s), n)]


def txt(name, value):
    # a TXT string holds at most 255 bytes: publish long keys in pieces
    # (dnsmasq splits its argument at commas)
    return "--txt-record=" + name + "," + ",".join(chunks(value))


def keygen(m, domain):
    out = m.ctl("dkim", "keygen", domain).stdout
    recs = dict(re.findall(r'^(\S+)\. IN TXT "(.*)"$', out, re.M))
    assert len(recs) == 2, out
    assert m.ctl("dkim", "show", domain).stdout.count("IN TXT") == 2
    return recs


def test_dkim_rows_right_missing_wrong_and_no_key(mailroom):
    m = mailroom
    m.ctl("domain", "add", "other.test")
    m.ctl("domain", "add", "third.test")
    m.add_user(ADMIN, "admin-pw-1", role="admin")
    ex = keygen(m, "example.test")
    other = keygen(m, "other.test")
    rsa_name = "mailroom._domainkey.example.test"
    ed_name = "mailroom-ed25519._domainkey.example.test"
    other_rsa = other["mailroom._domainkey.other.test"]
    # other.test publishes example.test's key: a record, but the wrong key
    m.start_dns(txt(rsa_name, ex[rsa_name]),
                txt("mailroom._domainkey.other.test", ex[rsa_name]),
                txt("mailroom-ed25519._domainkey.other.test",
                    other["mailroom-ed25519._domainkey.other.test"].replace("; ", ";  ")))
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login(ADMIN, "admin-pw-1").status == 303
    page = w.get("/dns")
    assert page.status == 200
    got = rows(page.text)
    assert got[("TXT (DKIM)", rsa_name)] == (ex[rsa_name], "right")
    assert got[("TXT (DKIM Ed25519)", ed_name)] == ("nothing", "missing")
    assert ex[ed_name] in page.text  # the value to publish is shown
    assert got[("TXT (DKIM)", "mailroom._domainkey.other.test")][1] == "wrong"
    assert other_rsa in page.text
    # spacing inside the record does not matter
    assert got[("TXT (DKIM Ed25519)", "mailroom-ed25519._domainkey.other.test")][1] == "right"
    third = got[("TXT (DKIM)", "mailroom._domainkey.third.test")]
    assert third == ("not looked up", "no key yet")
    assert "mailroomctl dkim keygen third.test" in page.text
    assert ("TXT (DKIM Ed25519)", "mailroom-ed25519._domainkey.third.test") not in got
