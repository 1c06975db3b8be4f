"""The Mail checks page: the trust.* settings (SPF/DKIM/DMARC switches,
forged own-domain mail, DNS blocklists, greylisting per domain and its
delay, spam threshold and subject tag) checked with errors next to their
field, written to the store, in the audit log, and taken up by the real
mailroom-smtpd: a blocklist added in the page gets a listed client 554 at
connect once smtpd re-reads its settings (SIGHUP, as on its minute tick)."""
import re
import signal
import sqlite3

from smtp_util import Dialog, start_smtpd
from test_web_client import Web, admin_web as admin


GOOD = {"spf": "yes", "dkim": "yes", "dmarc": "yes", "reject_forged_own_domain": "yes",
        "dnsbl_zones": "nobl.test bl.test", "greylist_domains": "",
        "greylist_delay": "300", "spam_threshold": "5.0", "spam_subject_tag": ""}


def trust_settings(m):
    with sqlite3.connect(m.db_path, timeout=10) as c:
        return dict(c.execute("SELECT key, value FROM settings WHERE key LIKE 'trust.%'"))


def test_checks_page_validates_each_field(mailroom):
    m = mailroom
    w = admin(m)
    page = w.get("/checks")
    assert page.status == 200 and '<a href="/checks" aria-current' in page.text
    # the defaults trust/settings.c uses
    assert re.search(r'id="spf" name="spf" value="yes" checked', page.text)
    assert re.search(r'id="greylist_delay"[^>]*value="300"', page.text)
    assert re.search(r'id="spam_threshold"[^>]*value="5.0"', page.text)
    cases = [
        ({"dnsbl_zones": "bl.test, not a zone!"}, "dnsbl_zones"),
        ({"greylist_domains": "stranger.test"}, "greylist_domains"),
        ({"greylist_delay": "0"}, "greylist_delay"),
        ({"greylist_delay": "five"}, "greylist_delay"),
        ({"spam_threshold": "5.55"}, "spam_threshold"),
        ({"spam_threshold": "-1"}, "spam_threshold"),
        ({"spam_subject_tag": "x" * 64}, "spam_subject_tag"),
    ]
    for change, field in cases:
        r = w.submit("/checks", "/checks", {**GOOD, **change})
        assert r.status == 400, (change, r)
        assert f'id="{field}-err" role="alert">' in r.text, change
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', r.text), change
    assert trust_settings(m) == {}
    r = w.submit("/checks", "/checks", {**GOOD, "spam_subject_tag": "<script>x</script>",
                                        "dnsbl_zones": "bad zone"})
    assert "<script>x</script>" not in r.text and "&lt;script&gt;" in r.text
    # CSRF, and only admins
    assert w.post("/checks", GOOD).status == 403
    m.add_user("u@example.test", "user-pw-12")
    u = Web(w.port)
    assert u.login("u@example.test", "user-pw-12").status == 303
    assert u.get("/checks").status == 403
    assert u.post("/checks", {**GOOD, "csrf": u.csrf("/me")}).status == 403
    assert trust_settings(m) == {}


def test_blocklist_added_in_the_page_refuses_a_listed_client(mailroom, monkeypatch):
    m = mailroom
    m.start_dns("--address=/1.0.0.127.bl.test/127.0.0.2")
    start_smtpd(m, monkeypatch)
    w = admin(m)
    d = Dialog(m.ports["smtp"])
    assert d.greeting[0] == 220  # no list yet
    d.close()

    r = w.submit("/checks", "/checks", {
        "spf": "yes", "dmarc": "yes",  # dkim and forged-own-domain unticked
        "dnsbl_zones": "NoBL.test,  bl.test", "greylist_domains": "Example.test",
        "greylist_delay": "120", "spam_threshold": "6.5", "spam_subject_tag": "[SPAM]"})
    assert r.status == 303, r
    page = w.get("/checks").text
    assert "Mail checks saved." in page
    assert re.search(r'id="dnsbl_zones"[^>]*value="nobl.test, bl.test"', page)
    assert not re.search(r'id="dkim" name="dkim" value="yes" checked', page)
    assert trust_settings(m) == {
        "trust.spf": "yes", "trust.dkim": "no", "trust.dmarc": "yes",
        "trust.reject_forged_own_domain": "no", "trust.dnsbl_zones": "nobl.test, bl.test",
        "trust.greylist_domains": "example.test", "trust.greylist_delay": "120",
        "trust.spam_threshold": "6.5", "trust.spam_subject_tag": "[SPAM]"}
    audit = w.get("/audit").text
    assert "mail-checks" in audit and "nobl.test, bl.test" in audit

    before = m.log("smtpd").count("event=trust-settings ")
    m.procs["smtpd"].send_signal(signal.SIGHUP)
    m.wait_log("smtpd", "event=trust-settings ", count=before + 1)
    assert 'dnsbl="nobl.test, bl.test" greylist="example.test" greylist_delay=120' \
        in m.log("smtpd")
    d = Dialog(m.ports["smtp"])
    assert d.greeting[0] == 554 and "bl.test" in d.greeting[1][0]
    assert d.closed()
