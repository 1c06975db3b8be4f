"""An employee's out-of-office reply and forwarding, set on "My account",
land in the account's rules exactly as librules reads them (checked with
`mailroomctl rule export`, the Sieve view of the same rules)."""
from test_web_client import Web


def test_vacation_and_forwarding_from_my_account(mailroom):
    m = mailroom
    m.add_user("admin@example.test", "admin-pw-1", role="admin")
    m.add_user("anna@example.test", "anna-pw-12")
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login("anna@example.test", "anna-pw-12").status == 303
    r = w.submit("/me", "/me/vacation", {"on": "1", "start": "2026-12-20",
                                         "end": "2027-01-02", "subject": "Away",
                                         "text": "Back in January."})
    assert r.status == 303
    page = w.get("/me").text
    assert "Your automatic reply is on." in page
    assert 'value="2026-12-20"' in page and "Back in January." in page
    r = w.submit("/me", "/me/forward", {"on": "1", "to": "Anna@Home.test, x@y.test",
                                        "keep": "1"})
    assert r.status == 303 and "Your mail is forwarded." in w.get("/me").text
    sieve = m.ctl("rule", "export", "anna@example.test").stdout
    assert "vacation" in sieve and "Back in January." in sieve
    assert "anna@home.test" in sieve and "x@y.test" in sieve
    listing = m.ctl("rule", "list", "anna@example.test").stdout
    assert "Out of office (web)" in listing and "Forwarding (web)" in listing

    # off keeps the text for next time; bad input is refused
    r = w.submit("/me", "/me/vacation", {"start": "2026-12-20", "end": "2027-01-02",
                                         "subject": "Away", "text": "Back in January."})
    page = w.get("/me").text
    assert "automatic reply is off" in page and "Back in January." in page
    assert 'name="on" value="1" checked' not in page.split("Forwarding")[0]
    r = w.submit("/me", "/me/vacation", {"on": "1", "start": "soon", "text": "x"})
    assert "Dates must look like" in w.get("/me").text
    r = w.submit("/me", "/me/forward", {"on": "1", "to": "anna@example.test"})
    assert "Forward to at most 16 other" in w.get("/me").text
