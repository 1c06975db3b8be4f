"""Client setup: Thunderbird autoconfig and Outlook autodiscover describe
this box's POP3S and submission ports; the per-employee setup page."""
import xml.etree.ElementTree as ET

from test_web_client import Web

ADMIN = "admin@example.test"


def test_thunderbird_autoconfig(mailroom):
    m = mailroom
    m.add_user(ADMIN, "admin-pw-1", role="admin")
    m.start("webadmin")
    w = Web(m.ports["admin"])
    for path in ("/.well-known/autoconfig/mail/config-v1.1.xml",
                 "/mail/config-v1.1.xml?emailaddress=anna%40example.test"):
        r = w.get(path)
        assert r.status == 200, path
        assert r.header("Content-Type").startswith("application/xml")
        root = ET.fromstring(r.body)
        prov = root.find("emailProvider")
        assert "example.test" in [d.text for d in prov.findall("domain")]
        inc = prov.find("incomingServer")
        assert inc.get("type") == "pop3"
        assert inc.find("hostname").text == m.hostname
        assert inc.find("port").text == str(m.ports["pop3s"])
        assert inc.find("socketType").text == "SSL"
        assert inc.find("username").text == "%EMAILADDRESS%"
        out = prov.find("outgoingServer")
        assert out.find("port").text == str(m.ports["submission"])
        assert out.find("socketType").text == "STARTTLS"


def test_outlook_autodiscover(mailroom):
    m = mailroom
    m.start("webadmin")  # works on a fresh box too (setup not done)
    w = Web(m.ports["admin"])
    req = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.'
           'microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request>'
           '<EMailAddress>anna@example.test</EMailAddress><AcceptableResponseSchema>'
           'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'
           '</AcceptableResponseSchema></Request></Autodiscover>')
    r = w.request("POST", "/autodiscover/autodiscover.xml", req, {"Content-Type": "text/xml"})
    assert r.status == 200, r
    ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
    root = ET.fromstring(r.body)
    protos = {p.find("a:Type", ns).text: p for p in root.iterfind(".//a:Protocol", ns)}
    assert protos["POP3"].find("a:Port", ns).text == str(m.ports["pop3s"])
    assert protos["POP3"].find("a:LoginName", ns).text == "anna@example.test"
    assert protos["SMTP"].find("a:Port", ns).text == str(m.ports["submission"])
    assert protos["SMTP"].find("a:Encryption", ns).text == "TLS"
    bad = req.replace("anna@example.test", "<x>")
    assert w.request("POST", "/autodiscover/autodiscover.xml", bad,
                     {"Content-Type": "text/xml"}).status == 400


def test_employee_setup_page(mailroom):
    m = mailroom
    m.add_user(ADMIN, "admin-pw-1", role="admin")
    m.add_user("anna@example.test", "anna-pw-12")
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login("anna@example.test", "anna-pw-12").status == 303
    page = w.get("/me/howto").text
    assert "anna@example.test" in page and str(m.ports["pop3s"]) in page
    assert str(m.ports["submission"]) in page and m.hostname in page
    assert w.get("/accounts/howto?address=anna@example.test").status == 403
    a = Web(m.ports["admin"])
    assert a.login(ADMIN, "admin-pw-1").status == 303
    page = a.get("/accounts/howto?address=anna@example.test").text
    assert "<code>anna@example.test</code>" in page
