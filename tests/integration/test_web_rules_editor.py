"""The Rules page of the web admin: rules added through the plain HTML forms
land in the store the way `mailroomctl rule list` shows them, bad input is
refused next to its field, a user reaches only their own list, "try it"
says what would happen, a rule made here acts on real mail (smtpd in, POP3
out), and Sieve goes out and back in through the page."""
import email
import email.policy
import html
import re
import smtplib
import time
import urllib.parse

from smtp_util import pop3_messages, start_smtpd
from test_web_client import Web

ADMIN, ADMIN_PW = "admin@example.test", "admin-pw-1"
ALICE, BOB = "alice@example.test", "bob@example.test"
USERS = {ALICE: "alice-pw-1", BOB: "bob-pw-2"}


def page(account):
    return "/rules?account=" + urllib.parse.quote(account)


def add(w, account, **fields):
    return w.submit(page(account), "/rules/add", {"account": account, **fields})


def rule_ids(w, account):
    """Rule ids on the page, in list order."""
    return re.findall(r'name="id" value="(\d+)"><button type="submit"[^>]*>(?:Enable|Disable)',
                      w.get(page(account)).text)


def try_it(w, account, message):
    """The try-it box's answer for message, unescaped."""
    r = w.submit(page(account), "/rules/try", {"account": account, "message": message})
    return html.unescape(re.search(r'<pre id="try-result">(.*?)</pre>', r.text, re.S).group(1))


def login_admin(m):
    m.add_user(ADMIN, ADMIN_PW, role="admin")
    w = Web(m.ports["admin"])
    assert w.login(ADMIN, ADMIN_PW).status == 303
    return w


def test_admin_adds_server_and_account_rules(mailroom, monkeypatch):
    m = mailroom
    start_smtpd(m, monkeypatch, users=USERS)
    m.start("webadmin")
    w = login_admin(m)
    r = add(w, "server", name="Big mail", match="all", f1="size", o1="over", v1="5M",
            action="reject", arg="Too big for us")
    assert r.status == 303, r
    r = add(w, ALICE, name="Invoices", match="any", f1="subject", o1="contains",
            v1="invoice", f2="header", h2="X-Kind", o2="is", v2="bill",
            action="forward", arg="books@example.test, tax@remote.test")
    assert r.status == 303, r
    server = m.ctl("rule", "list", "--server").stdout
    assert "Big mail" in server and "Too big for us" in server
    alice = m.ctl("rule", "list", ALICE).stdout
    assert "Invoices" in alice and "invoice" in alice and "books@example.test" in alice
    assert "Invoices" not in server and "Big mail" not in alice
    text = html.unescape(w.get(page(ALICE)).text)
    assert "Invoices" in text and "tax@remote.test" in text

    # bad values come back next to their field, nothing stored
    r = add(w, ALICE, name="Huge", f1="size", o1="over", v1="lots", action="discard")
    assert r.status == 400
    err = re.search(r'name="v1"[^>]*value="lots"><p class="field-error" id="err-v1">([^<]+)',
                    r.text)
    assert err and "size must be a number" in err.group(1)
    r = add(w, ALICE, name="Bad fwd", action="forward", arg="not an address")
    assert r.status == 400 and 'id="err-rule"' in r.text
    r = add(w, ALICE, name="", f1="subject", o1="contains", v1="x", action="keep")
    assert r.status == 400 and 'id="err-name"' in r.text
    assert "Huge" not in m.ctl("rule", "list", ALICE).stdout

    # enable/disable, move, delete; each change audited with the actor
    add(w, ALICE, name="Second", f1="from", o1="is", v1="boss@remote.test", action="stop")
    first, second = rule_ids(w, ALICE)
    assert w.submit(page(ALICE), "/rules/toggle", {"account": ALICE, "id": first}).status == 303
    assert "\toff\tInvoices" in m.ctl("rule", "list", ALICE).stdout
    w.submit(page(ALICE), "/rules/move", {"account": ALICE, "id": second, "dir": "up"})
    assert rule_ids(w, ALICE) == [second, first]
    w.submit(page(ALICE), "/rules/delete", {"account": ALICE, "id": first})
    listing = m.ctl("rule", "list", ALICE).stdout
    assert "Invoices" not in listing and "Second" in listing
    audit = w.get("/audit").text
    for action in ("rule-add", "rule-disable", "rule-move", "rule-delete"):
        assert action in audit
    assert ADMIN in audit


def test_user_edits_only_their_own_rules_and_csrf(mailroom, monkeypatch):
    m = mailroom
    start_smtpd(m, monkeypatch, users=USERS)
    m.start("webadmin")
    admin = login_admin(m)
    add(admin, BOB, name="Bob's", f1="subject", o1="contains", v1="x", action="keep")
    bob_id = rule_ids(admin, BOB)[0]

    w = Web(m.ports["admin"])
    assert w.login(ALICE, USERS[ALICE]).status == 303
    assert 'href="/rules"' in w.get("/me").text
    r = w.get("/rules")
    assert r.status == 200 and ALICE in r.text
    r = w.submit("/rules", "/rules/add", {"name": "Mine", "f1": "subject", "o1": "contains",
                                          "v1": "hello", "action": "tag", "arg": "[hi]"})
    assert r.status == 303
    assert "Mine" in m.ctl("rule", "list", ALICE).stdout
    assert w.get(page(BOB)).status == 403
    assert w.get(page("server")).status == 403
    assert w.get("/rules/export?account=" + urllib.parse.quote(BOB)).status == 403
    token = w.csrf("/rules")
    for path, fields in (("/rules/add", {"name": "Evil", "action": "discard"}),
                         ("/rules/delete", {"id": bob_id}),
                         ("/rules/toggle", {"id": bob_id})):
        r = w.post(path, {**fields, "account": BOB, "csrf": token})
        assert r.status == 403, (path, r)
    assert "Bob's" in m.ctl("rule", "list", BOB).stdout
    assert "Evil" not in m.ctl("rule", "list", BOB).stdout
    # bob's rule id posted against alice's own list is not found there
    w.post("/rules/delete", {"id": bob_id, "csrf": token})
    assert "Bob's" in m.ctl("rule", "list", BOB).stdout
    # no CSRF token: refused
    r = w.post("/rules/add", {"name": "NoToken", "action": "discard"})
    assert r.status == 403
    assert "NoToken" not in m.ctl("rule", "list", ALICE).stdout


def test_try_it_shows_the_decision(mailroom, monkeypatch):
    m = mailroom
    start_smtpd(m, monkeypatch, users=USERS)
    m.start("webadmin")
    w = login_admin(m)
    add(w, ALICE, name="Orders", f1="subject", o1="contains", v1="order",
        action="forward", arg="sales@remote.test")
    add(w, ALICE, name="Tag", f1="subject", o1="contains", v1="order", action="tag",
        arg="[<b>order</b>]")
    msg = ("From: Carol <carol@remote.test>\r\nTo: alice@example.test\r\n"
           "Subject: New order 42\r\n\r\nPlease ship.\r\n")
    r = w.submit(page(ALICE), "/rules/try", {"account": ALICE, "message": msg})
    assert r.status == 200
    result = re.search(r'<pre id="try-result">(.*?)</pre>', r.text, re.S)
    assert result, r.text[-2000:]
    out = result.group(1)
    assert "<b>" not in out and "&lt;b&gt;" in out  # escaped
    text = html.unescape(out)
    assert "sales@remote.test" in text and "[<b>order</b>]" in text
    assert "Orders" in text and "Tag" in text
    r = w.submit(page(ALICE), "/rules/try", {"account": ALICE,
                                             "message": msg.replace("order", "hello")})
    text = html.unescape(re.search(r'<pre id="try-result">(.*?)</pre>', r.text, re.S).group(1))
    assert "sales@remote.test" not in text


def test_body_rule_from_the_form_and_try_it(mailroom, monkeypatch):
    m = mailroom
    start_smtpd(m, monkeypatch, users=USERS)
    m.start("webadmin")
    w = login_admin(m)
    assert '<option value="body">' in w.get(page(ALICE)).text
    r = add(w, ALICE, name="Finance", f1="body", o1="contains", v1="invoice overdue",
            action="tag", arg="[FIN]")
    assert r.status == 303, r
    assert 'if body contains "invoice overdue"' in m.ctl("rule", "list", ALICE).stdout
    msg = ("From: Carol <carol@remote.test>\r\nTo: alice@example.test\r\n"
           "Subject: May\r\n\r\nYour Invoice Overdue notice.\r\n")
    for body, tagged in ((msg, True), (msg.replace("Overdue", "paid"), False)):
        text = try_it(w, ALICE, body)
        assert ("[FIN]" in text) == tagged, text


def pop_subjects(m, user):
    msgs = [email.message_from_bytes(raw, policy=email.policy.default)
            for raw in pop3_messages(m, user, USERS[user])]
    return [str(x["Subject"]) for x in msgs]


def test_rule_from_the_panel_acts_on_mail(mailroom, monkeypatch):
    m = mailroom
    start_smtpd(m, monkeypatch, users=USERS)
    m.start("pop3d")
    m.start("webadmin")
    w = login_admin(m)
    r = add(w, ALICE, name="Urgent", f1="subject", o1="contains", v1="urgent",
            action="tag", arg="[URGENT]")
    assert r.status == 303
    for subject in ("Something urgent here", "Lunch?"):
        msg = (f"From: Carol <carol@remote.test>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n"
               f"Message-ID: <{time.time_ns()}@remote.test>\r\n\r\nBody.\r\n")
        with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=15) as s:
            s.ehlo("mx.remote.test")
            s.sendmail("carol@remote.test", [ALICE], msg.encode())
    assert pop_subjects(m, ALICE) == ["[URGENT] Something urgent here", "Lunch?"]


def test_spam_verdict_condition_from_the_panel(mailroom, monkeypatch):
    """"Marked as spam by the mail checks" is the X-Spam-Flag smtpd writes;
    a sender's own flag never counts (dropped at the MX)."""
    m = mailroom
    # spam.test fails SPF and DMARC (p=none): our checks score it 5.8, spam
    m.start_dns("--txt-record=spam.test,v=spf1 -all",
                "--txt-record=_dmarc.spam.test,v=DMARC1; p=none")
    start_smtpd(m, monkeypatch, users=USERS)
    m.start("pop3d")
    m.start("webadmin")
    w = login_admin(m)
    form = w.get(page("server")).text
    assert '<option value="spam">Marked as spam by the mail checks' in form
    # the Mail checks page points at this very condition
    assert "Marked as spam by the mail checks" in w.get("/checks").text
    r = add(w, "server", name="Maybe", f1="spam", o1="is", v1="maybe", action="discard")
    assert r.status == 400
    err = re.search(r'<p class="field-error" id="err-v1">([^<]+)', r.text)
    assert err and "yes (spam) or no" in err.group(1)
    assert add(w, "server", name="Junk", f1="spam", o1="contains", v1="Yes",
               action="tag", arg="[JUNK]").status == 303
    assert add(w, ALICE, name="Clean", f1="spam", o1="is", v1="no",
               action="tag", arg="[OK]").status == 303
    assert 'Junk\tif header:X-Spam-Flag is "YES" then tag "[JUNK]"' in \
        m.ctl("rule", "list", "--server").stdout
    assert 'Clean\tif header:X-Spam-Flag not is "YES" then tag "[OK]"' in \
        m.ctl("rule", "list", ALICE).stdout
    for sender, subject, extra in (("offers@spam.test", "cheap", ""),
                                   ("carol@remote.test", "lunch", "X-Spam-Flag: YES\r\n")):
        msg = (f"From: <{sender}>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n{extra}"
               f"Message-ID: <{time.time_ns()}@remote.test>\r\n\r\nBody.\r\n")
        with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=15) as s:
            s.ehlo("mx.remote.test")
            s.sendmail(sender, [ALICE], msg.encode())
    assert pop_subjects(m, ALICE) == ["[JUNK] cheap", "[OK] lunch"]


def test_auth_result_conditions_from_the_panel(mailroom, monkeypatch):
    """"DKIM result" (and SPF, DMARC) in the form: stored as the dkim field,
    a bad value refused next to its row, and the try-it box reads only the
    pasted message's Authentication-Results of this server (its hostname)."""
    m = mailroom
    start_smtpd(m, monkeypatch, users=USERS)
    m.start("webadmin")
    w = login_admin(m)
    form = w.get(page(ALICE)).text
    for value, label in (("spf", "SPF result"), ("dkim", "DKIM result"),
                         ("dmarc", "DMARC result")):
        assert f'<option value="{value}">{label}</option>' in form
    assert 'id="auth-hint"' in form
    assert "DKIM result" in w.get("/checks").text
    # a word DKIM does not have: refused on its row (row 2), nothing stored
    r = add(w, ALICE, name="Bad", f1="subject", o1="contains", v1="x",
            f2="dkim", o2="is", v2="softfail", action="keep")
    assert r.status == 400
    err = re.search(r'name="v2"[^>]*value="softfail"><p class="field-error" '
                    r'id="err-v2">([^<]+)', r.text)
    assert err and "none pass fail policy neutral temperror permerror" in \
        html.unescape(err.group(1)), r.text[-3000:]
    assert 'id="err-v1"' not in r.text
    assert m.ctl("rule", "list", ALICE).stdout == ""
    # the only test a result takes is "is": the Test select is not asked
    r = add(w, ALICE, name="Verified", f1="dkim", o1="contains", v1="Pass",
            action="tag", arg="[DKIM]")
    assert r.status == 303, r
    assert 'Verified\tif dkim is pass then tag "[DKIM]"' in m.ctl("rule", "list", ALICE).stdout
    base = ("From: Carol <carol@remote.test>\r\nTo: alice@example.test\r\n"
            "Subject: signed\r\n\r\nHello.\r\n")
    ours = ("Authentication-Results: mail.example.test;\r\n\tspf=none;\r\n"
            "\tdkim=pass (good signature) header.d=remote.test header.s=s1;\r\n"
            "\tdmarc=none header.from=remote.test\r\n")
    other = ("Authentication-Results: mx.remote.test; dkim=pass header.d=remote.test\r\n"
             "Authentication-Results: mail.example.test; spf=none; dkim=fail "
             "(dkim=pass) header.b=\"dkim=pass\"\r\n")
    for msg, tagged in ((ours + base, True), (other + base, False), (base, False)):
        text = try_it(w, ALICE, msg)
        assert ("matched: Verified" in text) == tagged, (msg, text)
        assert ("[DKIM]" in text) == tagged, text


def test_sieve_export_import_round_trip(mailroom, monkeypatch):
    m = mailroom
    start_smtpd(m, monkeypatch, users=USERS)
    m.start("webadmin")
    w = login_admin(m)
    add(w, ALICE, name="Lists", f1="header", h1="List-Id", o1="contains", v1="dev",
        action="tag", arg="[dev]")
    add(w, ALICE, name="Spam", f1="subject", o1="matches", v1="*viagra*", action="discard")
    r = w.get("/rules/export?account=" + urllib.parse.quote(ALICE))
    assert r.status == 200 and "attachment" in r.header("Content-Disposition")
    script = r.text
    assert "require" in script and "discard" in script and "[dev]" in script
    before = m.ctl("rule", "list", ALICE).stdout

    # into bob's list through the page, then the same rules come out again
    r = w.submit(page(BOB), "/rules/import", {"account": BOB, "script": script})
    assert r.status == 303
    strip = lambda s: [line.split("\t", 2)[2] for line in s.strip().splitlines()]
    assert strip(m.ctl("rule", "list", BOB).stdout) == strip(before)
    again = w.get("/rules/export?account=" + urllib.parse.quote(BOB)).text
    assert again == script
    assert re.search(r"rule-import.*bob@example\.test 2 rule", w.get("/audit").text, re.S)

    # a broken script: the line number is shown, the list is unchanged
    r = w.submit(page(BOB), "/rules/import", {"account": BOB,
                                              "script": "require \"fileinto\";\n\nbogus;\n"})
    assert r.status == 400
    err = re.search(r'<p class="field-error" id="err-import">([^<]+)', r.text)
    assert err and "line " in err.group(1), r.text[-1500:]
    assert strip(m.ctl("rule", "list", BOB).stdout) == strip(before)


def test_domain_admin_scope_and_server_wide_try(mailroom, monkeypatch):
    m = mailroom
    start_smtpd(m, monkeypatch, users=USERS)
    m.ctl("domain", "add", "other.test")
    m.add_user("olga@other.test", "olga-pw-12")
    m.add_user("dora@example.test", "dora-pw-12", role="domain-admin")
    m.add_user(ADMIN, ADMIN_PW, role="admin")
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login("dora@example.test", "dora-pw-12").status == 303
    r = w.get("/rules")
    assert r.status == 200 and 'value="server"' not in r.text
    assert f'<option value="{ALICE}"' in r.text and "olga@other.test" not in r.text
    assert add(w, ALICE, name="Dora's", f1="subject", o1="is", v1="x",
               action="discard").status == 303
    assert "Dora's" in m.ctl("rule", "list", ALICE).stdout
    assert w.get(page("olga@other.test")).status == 403
    assert add(w, "olga@other.test", name="No", action="discard").status == 403
    assert add(w, "server", name="No", action="discard").status == 403

    # the admin's try-it on the server-wide list
    admin = Web(m.ports["admin"])
    assert admin.login(ADMIN, ADMIN_PW).status == 303
    add(admin, "server", name="Reject spam", f1="header", h1="X-Spam", o1="is", v1="yes",
        action="reject", arg="No spam here")
    msg = "From: a@remote.test\nSubject: hi\nX-Spam: yes\n\nbody\n"
    r = admin.submit(page("server"), "/rules/try", {"account": "server", "message": msg})
    assert r.status == 200
    out = html.unescape(re.search(r'<pre id="try-result">(.*?)</pre>', r.text, re.S).group(1))
    assert "No spam here" in out
