"""The end-of-DATA decision smtpd will make (trust_message + the forged
Authentication-Results filter), driven through trust-check against a real
dnsmasq, with signatures from python3-dkim and settings read from a real
store: 550 5.7.1 for DMARC p=reject and for forged mail claiming one of our
own domains, quarantine tagging, authenticated sessions never refused,
incoming Authentication-Results with our name removed, ours prepended."""
import sqlite3

import pytest

from test_trust_dkim import BAD, GOOD, keys, message, sign  # noqa: F401 (fixture)
from test_trust_lib import Zone, dkim_mode, run_tool  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def _both_dkim_modes(dkim_mode):
    """Every case on the loop and on smtpd's DKIM worker thread."""
    return dkim_mode

AUTHSERV = "mail.office.test"


@pytest.fixture(scope="module", params=[0, 300], ids=["uncached", "cached"])
def zone(keys, tmp_path_factory, request):  # noqa: F811
    rsa = "v=DKIM1; k=rsa; p=" + keys["rsa_pub"]
    records = {
        "sel._domainkey.example.test": [("TXT", [rsa[i:i + 250] for i in range(0, len(rsa), 250)])],
        "_dmarc.example.test": [("TXT", "v=DMARC1; p=reject")],
        "example.test": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
        "_dmarc.quar.test": [("TXT", "v=DMARC1; p=quarantine")],
        "quar.test": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
        # the office: an SPF record, no DMARC record
        "office.test": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
    }
    with Zone(records, tmp_path_factory.mktemp("dns"), ttl=request.param) as z:
        yield z


def verdicts(zone, tmp_path, cases, db=None):
    lines = []
    for i, (m, ip, mf, authed) in enumerate(cases):
        p = tmp_path / f"v{i}.eml"
        p.write_bytes(m)
        lines.append(["verdict", str(p), ip, "mx.sender.test", mf, "0", AUTHSERV,
                      "yes" if authed else "no", "office.test"])
    cmd_db = {"db": db} if db else {}
    res = run_tool_db(zone, lines, **cmd_db)
    for i, r in enumerate(res):
        r["stored"] = (tmp_path / f"v{i}.eml.out").read_bytes()
    return res


def run_tool_db(zone, lines, db=None):
    if db is None:
        return run_tool(zone, lines)
    import subprocess
    import json
    from test_trust_lib import trust_check_binary
    cmd = [str(trust_check_binary()), "-s", zone.server, "-t", "400", "-d", db]
    data = "".join("\t".join(f) + "\n" for f in lines).encode()
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.decode().splitlines()]


def test_refusals_and_acceptance(zone, keys, tmp_path):  # noqa: F811
    forged_own = message(frm="Boss <boss@office.test>", subject="Pay this invoice today")
    cases = [
        (forged_own, BAD, "boss@office.test", False),           # forged own domain
        (forged_own, BAD, "boss@office.test", True),            # our user, authenticated
        (forged_own, GOOD, "boss@office.test", False),          # SPF-aligned: really ours
        (message(), BAD, "alice@example.test", False),          # p=reject
        (message(frm="a@quar.test"), BAD, "a@quar.test", False),  # p=quarantine
        (sign(message(), keys), BAD, "x@elsewhere.test", False),  # signed: DMARC pass
    ]
    r = verdicts(zone, tmp_path, cases)
    assert r[0]["action"] == "reject"
    assert r[0]["reply"].startswith("550 5.7.1 ") and "office.test" in r[0]["reply"]
    assert r[1]["action"] == "accept" and "X-Spam" not in r[1]["headers"]
    assert r[2]["action"] == "accept" and "spf=pass" in r[2]["headers"]
    assert r[3]["action"] == "reject" and "DMARC policy of example.test" in r[3]["reply"]
    assert r[4]["action"] == "accept" and r[4]["quarantine"] and r[4]["is_spam"]
    assert b"X-Spam-Flag: YES\r\n" in r[4]["stored"]
    assert r[5]["action"] == "accept" and not r[5]["is_spam"]
    assert "dkim=pass header.d=example.test" in r[5]["headers"]
    assert "dmarc=pass" in r[5]["headers"]
    for x in r:
        assert x["stored"].startswith(b"Authentication-Results: " + AUTHSERV.encode() + b";")
        assert "action=" in x["log"]


def test_forged_authentication_results_removed(zone, keys, tmp_path):  # noqa: F811
    """A sender's own "Authentication-Results: <our name>; dkim=pass" (also
    folded, or with a comment first) is gone from the stored copy; another
    server's stays; the body is untouched even if it quotes such a line."""
    extra = (b"Authentication-Results: mail.office.test; dkim=pass; dmarc=pass\r\n"
             b"Authentication-Results:\r\n (forged) MAIL.OFFICE.TEST;\r\n\tspf=pass\r\n"
             b"Authentication-Results: mx.upstream.test; spf=pass smtp.mailfrom=x\r\n")
    body = b"Quoted:\r\nAuthentication-Results: mail.office.test; dkim=pass\r\n"
    m = sign(message(extra=extra, body=body), keys)
    r = verdicts(zone, tmp_path, [(m, BAD, "x@elsewhere.test", False)])[0]
    assert r["ar_dropped"] == 2
    stored = r["stored"]
    head, _, stored_body = stored.partition(b"\r\n\r\n")
    assert head.count(b"mail.office.test") == 1   # only ours, at the top
    assert b"MAIL.OFFICE.TEST" not in head
    assert b"Authentication-Results: mx.upstream.test; spf=pass" in head
    assert stored_body == body
    # the signature still verifies: the filter never touches what DKIM saw
    assert "dkim=pass" in r["headers"]


def test_settings_from_the_store(zone, keys, tmp_path):  # noqa: F811
    """trust.* settings in the store's settings table: DMARC turned off
    stops the p=reject refusal; a subject tag is offered for spam."""
    db = str(tmp_path / "mailroom.db")
    run_tool(zone, [["grey", db, "192.0.2.1", "a@b.test", "c@d.test", "1"]])  # creates the store
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO settings (key, value) VALUES (?, ?)",
                    [("trust.dmarc", "no"), ("trust.spam_subject_tag", "[SPAM]"),
                     ("trust.spam_threshold", "3.0")])
    con.commit()
    con.close()
    r = verdicts(zone, tmp_path, [(message(), BAD, "alice@example.test", False)], db=db)[0]
    assert r["action"] == "accept"
    assert "dmarc=" not in r["headers"] and "spf=fail" in r["headers"]
    assert r["is_spam"] and r["subject_tag"] == "[SPAM]"


def test_from_hidden_behind_junk_fields_and_huge_headers(zone, keys, tmp_path):  # noqa: F811
    """A forged From after 1,200 junk fields is still found (and refused);
    a 300 KB header section is refused with 552 5.3.4; a message with two
    From fields (one of them ours) is refused: a client may show either."""
    junk = b"".join(b"X-Junk-%04d: filler\r\n" % i for i in range(1200))
    hidden = junk + message(frm="Boss <boss@office.test>")
    huge = b"X-Big: " + b"a" * 1000 + b"\r\n"
    huge = huge * 300 + message(frm="Boss <boss@office.test>")
    two = message(frm="a@elsewhere.test", extra=b"From: Boss <boss@office.test>\r\n")
    r = verdicts(zone, tmp_path, [(hidden, BAD, "x@elsewhere.test", False),
                                  (huge, BAD, "x@elsewhere.test", False),
                                  (two, BAD, "x@elsewhere.test", False)])
    assert r[0]["action"] == "reject" and "office.test" in r[0]["reply"], r[0]
    assert r[1]["action"] == "reject" and r[1]["reply"].startswith("552 5.3.4"), r[1]
    assert r[2]["action"] == "reject" and "more than one From" in r[2]["reply"], r[2]


def test_from_syntax_cannot_hide_the_author(zone, keys, tmp_path):  # noqa: F811
    """Comments and quoted strings neither hide nor fake the address a mail
    client shows; a From with two mailboxes is refused."""
    cases = [
        ("Boss <boss@office.test>", "reject"),
        ("boss@office.test (<x@elsewhere.test>)", "reject"),
        ("\"boss@office.test\" <x@elsewhere.test>", "accept"),
        ("\"Boss, CEO\" <boss@office.test>", "reject"),
        ("(x@elsewhere.test) boss@office.test", "reject"),
        ("x@elsewhere.test, boss@office.test", "reject"),
    ]
    r = verdicts(zone, tmp_path, [(message(frm=f), BAD, "x@elsewhere.test", False)
                                  for f, _ in cases])
    for (frm, want), got in zip(cases, r):
        assert got["action"] == want, (frm, got["reply"], got["log"])
