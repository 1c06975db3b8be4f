"""mailroomctl rule as an admin uses it: add, list, show, move, enable and
disable, delete, test a message, export to Sieve and import it back, and
every user error as one line on stderr with exit status 1."""
import json
import sqlite3

import pytest

from test_cli import one_line_error

ALICE = "alice@example.test"

MESSAGE = (
    "From: =?UTF-8?Q?Ren=C3=A9e?= <boss@example.test>\r\n"
    "To: Alice <alice@example.test>\r\n"
    "Subject: =?ISO-8859-1?Q?R=E9union?= URGENT\r\n"
    "Message-ID: <m1@example.test>\r\n"
    "X-Spam-Flag: YES\r\n"
    "\r\n"
    "body\r\n"
)


@pytest.fixture
def m(mailroom):
    mailroom.add_user(ALICE, "correct horse")
    return mailroom


def rows(m, who=ALICE):
    out = m.ctl("rule", "list", who).stdout
    return [line.split("\t") for line in out.splitlines()]


def test_add_list_show_del(m):
    r = m.ctl("rule", "add", ALICE, "Boss", "--if", "from", "is", "boss@example.test",
              "--if", "subject", "contains", "urgent", "--forward", "me@mobile.test",
              "--tag", "[BOSS]", "--stop")
    assert "added for alice@example.test" in r.stdout
    m.ctl("rule", "add", ALICE, "Big", "--if", "size", "over", "10M", "--reject", "too big",
          "--disabled")
    got = rows(m)
    assert [g[1:4] for g in got] == [["1", "on", "Boss"], ["2", "off", "Big"]]
    assert got[0][4] == ('if from is "boss@example.test" and subject contains "urgent" '
                         'then forward me@mobile.test; tag "[BOSS]"; stop')
    assert got[1][4] == 'if size over 10M then reject "too big"'
    shown = json.loads(m.ctl("rule", "show", ALICE, got[1][0]).stdout)
    assert shown["enabled"] is False
    assert shown["if"] == [{"field": "size", "op": "over", "value": 10 * 1024 * 1024}]
    # the store holds the versioned JSON spec
    db = sqlite3.connect(m.db_path)
    spec = db.execute("SELECT spec FROM rules WHERE name = 'Boss'").fetchone()[0]
    db.close()
    assert json.loads(spec)["v"] == 1
    m.ctl("rule", "move", ALICE, got[1][0], "1")
    assert [g[3] for g in rows(m)] == ["Big", "Boss"]
    m.ctl("rule", "enable", ALICE, got[1][0])
    assert rows(m)[0][2] == "on"
    m.ctl("rule", "del", ALICE, got[0][0])
    assert [g[3] for g in rows(m)] == ["Big"]
    assert rows(m)[0][1] == "1"
    one_line_error(m.ctl("rule", "del", ALICE, got[0][0], check=False), "does not exist")


def test_server_wide_rules_run_first(m):
    m.ctl("rule", "add", "--server", "Spam", "--if", "header:X-Spam-Flag", "is", "yes",
          "--tag", "[SPAM]")
    m.ctl("rule", "add", ALICE, "Mine", "--tag", "[MINE]", "--forward", "x@remote.test")
    assert [g[3] for g in rows(m, "--server")] == ["Spam"]
    msg = m.dir / "msg.eml"
    msg.write_bytes(MESSAGE.encode())
    out = m.ctl("rule", "test", ALICE, msg).stdout
    assert out == ("matched: Spam, Mine\nkeep: yes\ntag: [SPAM]\n"
                   "forward: x@remote.test\n")


def test_spam_shorthand_is_the_checks_flag(m):
    """`--if spam is yes|no`: the X-Spam-Flag smtpd writes (a sender's own is
    dropped at the MX), stored as the plain header condition."""
    m.ctl("rule", "add", "--server", "Junk", "--if", "spam", "is", "yes", "--tag", "[SPAM]")
    m.ctl("rule", "add", ALICE, "Ham", "--if", "spam", "is", "No", "--tag", "[HAM]")
    m.ctl("rule", "add", ALICE, "Ham too", "--if-not", "spam", "is", "yes", "--stop")
    assert rows(m, "--server")[0][4] == 'if header:X-Spam-Flag is "YES" then tag "[SPAM]"'
    assert [g[4] for g in rows(m)] == ['if header:X-Spam-Flag not is "YES" then tag "[HAM]"',
                                       'if header:X-Spam-Flag not is "YES" then stop']
    msg = m.dir / "msg.eml"
    msg.write_bytes(MESSAGE.encode())  # carries X-Spam-Flag: YES
    assert m.ctl("rule", "test", ALICE, msg).stdout == "matched: Junk\nkeep: yes\ntag: [SPAM]\n"
    msg.write_bytes(MESSAGE.replace("X-Spam-Flag: YES\r\n", "").encode())
    assert m.ctl("rule", "test", ALICE, msg).stdout == \
        "matched: Ham, Ham too\nkeep: yes\ntag: [HAM]\nstop: yes\n"
    for bad in (["contains", "yes"], ["is", "maybe"]):
        one_line_error(m.ctl("rule", "add", ALICE, "x", "--if", "spam", *bad, "--keep",
                             check=False), "spam takes 'is yes' or 'is no'")


def test_set_header_and_regex(m):
    m.ctl("rule", "add", ALICE, "Team", "--if", "subject", "regex", "^r.+union +urgent$",
          "--header", "X-Team", "Planning")
    assert rows(m)[0][4] == 'if subject regex "^r.+union +urgent$" then header X-Team: "Planning"'
    msg = m.dir / "msg.eml"
    msg.write_bytes(MESSAGE.encode())
    out = m.ctl("rule", "test", ALICE, msg).stdout
    assert out == "matched: Team\nkeep: yes\nheader: X-Team: Planning\n"
    one_line_error(m.ctl("rule", "add", ALICE, "x", "--header", "Received", "forged",
                         check=False), "Received header cannot be set")
    one_line_error(m.ctl("rule", "add", ALICE, "x", "--if", "subject", "regex", "(a)\\1",
                         "--keep", check=False), "back-references")
    script = m.ctl("rule", "export", ALICE).stdout
    assert 'require ["editheader", "regex"];' in script
    assert 'deleteheader "X-Team";\n    addheader "X-Team" "Planning";' in script


def test_body_condition_add_test_export(m):
    """rule add takes field body; rule test sees the (QP-decoded) body,
    and the export says require "body"."""
    m.ctl("rule", "add", ALICE, "Fin", "--if", "body", "contains", "invoice overdue",
          "--tag", "[FIN]")
    assert rows(m)[0][4] == 'if body contains "invoice overdue" then tag "[FIN]"'
    msg = m.dir / "msg.eml"
    qp = MESSAGE.replace("\r\n\r\nbody\r\n",
                         "\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                         "Your INVOICE=20over=\r\ndue since May\r\n")
    assert qp != MESSAGE
    msg.write_bytes(qp.encode())
    out = m.ctl("rule", "test", ALICE, msg).stdout
    assert out == "matched: Fin\nkeep: yes\ntag: [FIN]\n"
    msg.write_bytes(MESSAGE.encode())
    out = m.ctl("rule", "test", ALICE, msg).stdout
    assert "Fin" not in out and "tag:" not in out
    script = m.ctl("rule", "export", ALICE).stdout
    assert 'require ["editheader", "body", "variables"];' in script
    assert 'if body :contains "invoice overdue" {' in script


def test_test_decodes_headers_and_shows_vacation(m):
    m.ctl("rule", "add", ALICE, "Reunion", "--if", "subject", "contains", "Réunion",
          "--if", "from", "contains", "Renée", "--redirect", "boss-mail@remote.test")
    m.ctl("rule", "add", ALICE, "Away", "--vacation", "I am away", "--days", "3",
          "--start", "2026-01-01", "--end", "2026-01-31")
    msg = m.dir / "msg.eml"
    msg.write_bytes(MESSAGE.encode())
    out = m.ctl("rule", "test", ALICE, msg, "--from", "boss@example.test",
                "--date", "2026-01-15").stdout
    assert "matched: Reunion, Away\n" in out
    assert "keep: no\n" in out
    assert "forward: boss-mail@remote.test\n" in out
    assert "vacation: reply\n" in out
    out = m.ctl("rule", "test", ALICE, msg, "--date", "2026-02-01").stdout
    assert "vacation: no reply (outside dates)" in out
    # a mailing list never gets the reply
    listmsg = m.dir / "list.eml"
    listmsg.write_bytes(("List-Id: <team.example.test>\r\n" + MESSAGE).encode())
    out = m.ctl("rule", "test", ALICE, listmsg, "--date", "2026-01-15").stdout
    assert "vacation: no reply (mailing list)" in out
    # stdin works too
    r = m.ctl("rule", "test", ALICE, "-", "--from", "", "--date", "2026-01-15",
              input=MESSAGE)
    assert "vacation: no reply (null sender)" in r.stdout


def test_export_import_round_trip(m):
    m.ctl("rule", "add", ALICE, "Boss", "--if", "from", "matches", "*@boss.test",
          "--if-not", "header:X-Spam-Flag", "is", "yes", "--any",
          "--forward", "me@mobile.test,pa@example.test", "--tag", "[B]", "--stop")
    m.ctl("rule", "add", ALICE, "Env", "--if", "envelope_from", "is", "x@spam.test",
          "--if", "size", "under", "100", "--discard", "--disabled")
    m.ctl("rule", "add", ALICE, "Away", "--vacation", "Back soon.\nBye", "--subject",
          "Away", "--days", "5", "--start", "2026-12-20", "--end", "2027-01-02",
          "--addresses", "a@alias.test")
    script = m.ctl("rule", "export", ALICE).stdout
    assert script.startswith("# Mailroom rules")
    assert 'require ["copy", "date", "editheader", "envelope", "relational", ' \
           '"vacation", "variables"];' in script
    assert "if allof (false, allof (envelope :is \"from\"" in script
    before = [g[2:] for g in rows(m)]
    path = m.dir / "rules.sieve"
    path.write_text(script)
    r = m.ctl("rule", "import", ALICE, path)
    assert r.stdout == "imported 3 rules for alice@example.test\n"
    assert [g[2:] for g in rows(m)] == before
    assert m.ctl("rule", "export", ALICE).stdout == script
    # another account receives them
    m.add_user("bob@example.test", "correct horse")
    m.ctl("rule", "import", "bob@example.test", "-", input=script)
    assert [g[2:] for g in rows(m, "bob@example.test")] == before


@pytest.mark.parametrize("args,words", [
    (["rule"], ["usage"]),
    (["rule", "frob", ALICE], ["unknown rule command 'frob'"]),
    (["rule", "list", "nobody@example.test"], ["account nobody@example.test", "does not exist"]),
    (["rule", "list", "not-an-address"], ["not a valid address"]),
    (["rule", "add", ALICE, "x", "--if", "bodytext", "contains", "y", "--keep"], ["unknown field 'bodytext'"]),
    (["rule", "add", ALICE, "x", "--if", "body", "regex", "y", "--keep"], ["body takes contains, is or matches"]),
    (["rule", "add", ALICE, "x", "--if", "subject", "like", "y", "--keep"], ["unknown operator 'like'"]),
    (["rule", "add", ALICE, "x", "--if", "size", "over", "lots", "--keep"], ["not a size"]),
    (["rule", "add", ALICE, "x", "--if", "subject", "is"], ["--if needs 3 values"]),
    (["rule", "add", ALICE, "x", "--if", "subject", "is", "y"], ["at least one action"]),
    (["rule", "add", ALICE, "x", "--forward", "nobody"], ["'nobody' is not a valid address"]),
    (["rule", "add", ALICE, "x", "--vacation", "t", "--days", "0"], ["days must be 1 to 365"]),
    (["rule", "add", ALICE, "x", "--vacation", "t", "--start", "2026-02-30"], ["must be a date"]),
    (["rule", "add", ALICE, "x", "--subject", "s"], ["--subject belongs after --vacation"]),
    (["rule", "add", ALICE, "x", "--json", "{\"then\":[]}"], ["at least one action"]),
    (["rule", "add", ALICE, "x", "--bogus"], ["unknown option '--bogus'"]),
    (["rule", "del", ALICE, "abc"], ["not a rule id"]),
    (["rule", "move", ALICE, "1"], ["usage"]),
    (["rule", "test", ALICE, "/nonexistent/file"], ["cannot open /nonexistent/file"]),
    (["rule", "import", ALICE, "/nonexistent/file"], ["cannot open"]),
])
def test_errors_are_one_line(m, args, words):
    one_line_error(m.ctl(*args, check=False), *words)


@pytest.mark.parametrize("script,words", [
    ('require "fileinto";\nif true { fileinto "x"; }\n', ["line 1:", "fileinto", "not supported"]),
    ('if true {\n  keep;\n} elsif false { discard; }\n', ["line 3:", "elsif"]),
    ('if header :count "gt" "subject" "1" {\n keep;\n}\n', ["line 1:", ":count"]),
    ('if true {\n  keep;\n', ["line 3:", "not closed"]),
    ('keep;\nredirect "nobody";\n', ["line 2:", "not a valid address"]),
])
def test_import_refuses_what_it_does_not_support(m, script, words):
    m.ctl("rule", "add", ALICE, "Existing", "--keep")
    path = m.dir / "bad.sieve"
    path.write_text(script)
    line = one_line_error(m.ctl("rule", "import", ALICE, path, check=False), *words)
    assert str(path) in line
    # nothing changed
    assert [g[3] for g in rows(m)] == ["Existing"]


AR_OURS = ("Authentication-Results: mail.example.test;\r\n"
           "\tspf=pass (sender allowed) smtp.mailfrom=boss@example.test;\r\n"
           "\tdkim=fail (bad signature; dkim=pass) header.d=example.test header.s=s1;\r\n"
           "\tdkim=pass header.d=example.test header.s=s2;\r\n"
           "\tdmarc=pass (p=none dis=none) header.from=example.test\r\n")
AR_OTHER = ("Authentication-Results: mx.other.test; spf=pass smtp.mailfrom=a@b.test;\r\n"
            "\tdkim=pass header.d=b.test; dmarc=pass\r\n")


def test_auth_result_conditions_add_list_test(m):
    """`--if spf is pass`, `--if-not dkim is pass`: the checks' own results,
    read by `rule test` from the Authentication-Results whose authserv-id is
    the config's hostname (mail.example.test) only."""
    m.ctl("rule", "add", "--server", "Forged", "--if", "dmarc", "is", "FAIL",
          "--tag", "[FORGED]")
    m.ctl("rule", "add", ALICE, "SPF ok", "--if", "spf", "is", "pass",
          "--header", "X-SPF", "ok")
    m.ctl("rule", "add", ALICE, "Unsigned", "--if-not", "dkim", "is", "pass",
          "--tag", "[UNSIGNED]")
    assert rows(m, "--server")[0][4] == "if dmarc is fail then tag \"[FORGED]\""
    assert [g[4] for g in rows(m)] == ['if spf is pass then header X-SPF: "ok"',
                                       'if dkim not is pass then tag "[UNSIGNED]"']
    shown = json.loads(m.ctl("rule", "show", ALICE, rows(m)[0][0]).stdout)
    assert shown["if"] == [{"field": "spf", "op": "is", "value": "pass"}]
    msg = m.dir / "msg.eml"
    # ours: spf pass, one of two signatures passes, dmarc pass
    msg.write_bytes((AR_OURS + MESSAGE).encode())
    assert m.ctl("rule", "test", ALICE, msg).stdout == \
        "matched: SPF ok\nkeep: yes\nheader: X-SPF: ok\n"
    # another server's field says pass everywhere: not ours, so none
    msg.write_bytes((AR_OTHER + MESSAGE).encode())
    assert m.ctl("rule", "test", ALICE, msg).stdout == \
        "matched: Unsigned\nkeep: yes\ntag: [UNSIGNED]\n"
    # ours says dmarc fail, the other server's pass: ours counts
    msg.write_bytes((AR_OTHER + "Authentication-Results: mail.example.test; dmarc=fail\r\n"
                     + MESSAGE).encode())
    assert m.ctl("rule", "test", ALICE, msg).stdout == \
        "matched: Forged, Unsigned\nkeep: yes\ntag: [FORGED]\n"
    # the export says what Sieve cannot: our own test, never a header match
    script = m.ctl("rule", "export", ALICE).stdout
    assert '"vnd.mailroom.authres"' in script
    assert 'if mailroom_authres "spf" "pass" {' in script
    assert 'if not mailroom_authres "dkim" "pass" {' in script
    assert "Authentication-Results\"" not in script
    # and it comes back the same
    path = m.dir / "rules.sieve"
    path.write_text(script)
    m.ctl("rule", "import", ALICE, path)
    assert [g[4] for g in rows(m)] == ['if spf is pass then header X-SPF: "ok"',
                                       'if dkim not is pass then tag "[UNSIGNED]"']


def test_auth_result_bad_values_refused(m):
    one_line_error(m.ctl("rule", "add", ALICE, "x", "--if", "spf", "is", "maybe", "--keep",
                         check=False),
                   "spf result 'maybe' is not one of: none neutral pass fail softfail "
                   "policy temperror permerror")
    one_line_error(m.ctl("rule", "add", ALICE, "x", "--if", "dmarc", "is", "softfail",
                         "--keep", check=False),
                   "none pass fail temperror permerror")
    one_line_error(m.ctl("rule", "add", ALICE, "x", "--if-not", "dkim", "contains", "pass",
                         "--keep", check=False), "dkim takes is")
    one_line_error(m.ctl("rule", "add", ALICE, "x", "--if", "arc", "is", "pass", "--keep",
                         check=False), "unknown field 'arc'", "spf, dkim, dmarc")
    assert rows(m) == []
