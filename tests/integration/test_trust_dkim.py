"""DKIM verification (RFC 6376, RFC 8463) and DMARC (RFC 7489) through
libtrust against a real dnsmasq serving the keys and policies, with every
signature made by an independent signer (Debian python3-dkim).

Each message is fed to the verifier in 777-byte pieces (trust-check's
chunk size), so CRLFs and header/body boundaries fall between pieces.
"""
import base64
import subprocess

import dkim
import nacl.encoding
import nacl.signing
import pytest

from test_trust_lib import Zone, dkim_mode, run_tool  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def _both_dkim_modes(dkim_mode):
    """Every case on the loop and on smtpd's DKIM worker thread."""
    return dkim_mode


def _chunks(s, n=250):
    return [s[i:i + n] for i in range(0, len(s), n)]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    rsa = d / "rsa.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(rsa), "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(rsa), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    small = d / "small.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(small), "512"], check=True, capture_output=True)
    small_der = subprocess.run(["openssl", "rsa", "-in", str(small), "-pubout", "-outform", "DER"],
                               check=True, capture_output=True).stdout
    ed = nacl.signing.SigningKey.generate()
    return {
        "rsa_priv": rsa.read_bytes(),
        "rsa_pub": base64.b64encode(der).decode(),
        "small_priv": small.read_bytes(),
        "small_pub": base64.b64encode(small_der).decode(),
        "ed_priv": ed.encode(encoder=nacl.encoding.Base64Encoder),
        "ed_pub": ed.verify_key.encode(encoder=nacl.encoding.Base64Encoder).decode(),
    }


@pytest.fixture(scope="module")
def zone(keys, tmp_path_factory):
    rsa_rec = _chunks("v=DKIM1; k=rsa; p=" + keys["rsa_pub"])
    records = {
        "sel._domainkey.example.test": [("TXT", rsa_rec)],
        "ed._domainkey.example.test": [("TXT", "v=DKIM1; k=ed25519; p=" + keys["ed_pub"])],
        "sel._domainkey.mail.example.test": [("TXT", rsa_rec)],
        "sel._domainkey.other.test": [("TXT", rsa_rec)],
        "small._domainkey.example.test": [("TXT", "v=DKIM1; k=rsa; p=" + keys["small_pub"])],
        "gone._domainkey.example.test": [("TXT", "v=DKIM1; k=rsa; p=")],
        "_dmarc.example.test": [("TXT", "v=DMARC1; p=reject; rua=mailto:d@example.test")],
        "_dmarc.strict.test": [("TXT", "v=DMARC1; p=reject; adkim=s; aspf=s")],
        "sel._domainkey.mail.strict.test": [("TXT", rsa_rec)],
        "_dmarc.quar.test": [("TXT", "v=DMARC1; p=quarantine")],
        "_dmarc.watch.test": [("TXT", "v=DMARC1; p=none")],
        "_dmarc.corp.test": [("TXT", "v=DMARC1; p=reject; sp=quarantine")],
        "_dmarc.half.test": [("TXT", "v=DMARC1; p=reject; pct=50")],
        # SPF for the envelope senders
        "example.test": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
        "bounce.example.test": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
        "bounce.strict.test": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
        "quar.test": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
        "watch.test": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
        "news.corp.test": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
        "half.test": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
        "other.test": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
    }
    z = Zone(records, tmp_path_factory.mktemp("dns"))
    with z:
        yield z


GOOD = "192.0.2.10"   # allowed by the senders' SPF records
BAD = "203.0.113.9"   # not


def message(frm="Alice <alice@example.test>", subject="Quarterly figures", body=None,
            extra=b""):
    body = body if body is not None else (
        b"Hello team,\r\n\r\nthe figures  are   attached.\t \r\n\r\n-- \r\nAlice\r\n\r\n\r\n")
    return (f"From: {frm}\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
            "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n"
            ).encode() + extra + b"\r\n" + body


def sign(msg, keys, selector=b"sel", domain=b"example.test", algo=b"rsa-sha256",
         canon=(b"relaxed", b"relaxed"), length=False, key=None):
    if key is None:
        key = keys["ed_priv"] if algo == b"ed25519-sha256" else keys["rsa_priv"]
    sig = dkim.sign(msg, selector, domain, key, canonicalize=canon,
                    signature_algorithm=algo, length=length,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return sig + msg


def check(zone, tmp_path, msgs):
    """msgs: list of (bytes, client ip, mail from, pct sample)."""
    lines = []
    for i, (m, ip, mf, sample) in enumerate(msgs):
        p = tmp_path / f"m{i}.eml"
        p.write_bytes(m)
        lines.append(["msg", str(p), ip, "mx.sender.test", mf, str(sample), "mail.example.test"])
    return run_tool(zone, lines)


CANONS = [(b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple"),
          (b"simple", b"relaxed")]


@pytest.mark.parametrize("algo", [b"rsa-sha256", b"ed25519-sha256"])
def test_independent_signatures_verify(zone, keys, tmp_path, algo):
    """python3-dkim signatures verify in all four canonicalization pairs."""
    sel = b"sel" if algo == b"rsa-sha256" else b"ed"
    msgs = [(sign(message(), keys, selector=sel, algo=algo, canon=c), BAD, "x@elsewhere.test", 0)
            for c in CANONS]
    for c, r in zip(CANONS, check(zone, tmp_path, msgs)):
        assert [s["result"] for s in r["dkim"]] == ["pass"], (c, r)
        assert r["dkim"][0]["a"] == algo.decode()
        # the signature aligns with From: DMARC passes although SPF fails
        assert r["dmarc"] == "pass" and r["dkim_aligned"], r
        assert "dkim=pass header.d=example.test header.s=" + sel.decode() in r["auth_results"]


def test_tampered_messages_are_refused(zone, keys, tmp_path):
    """A changed body, a changed signed header, or relaxed-only whitespace
    under simple canonicalization all fail; DMARC then fails."""
    good = sign(message(), keys)
    body_changed = good.replace(b"attached", b"attachee")
    subj_changed = good.replace(b"Subject: Quarterly figures", b"Subject: Quarterly figurez")
    simple = sign(message(), keys, canon=(b"simple", b"simple"))
    ws_simple = simple.replace(b"Subject: Quarterly figures", b"Subject:  Quarterly figures")
    relaxed = sign(message(), keys, canon=(b"relaxed", b"relaxed"))
    ws_relaxed = relaxed.replace(b"Subject: Quarterly figures", b"Subject:  Quarterly \r\n figures")
    ws_body_relaxed = relaxed.replace(b"the figures", b"the    figures")
    msgs = [(m, BAD, "x@elsewhere.test", 0)
            for m in (body_changed, subj_changed, ws_simple, ws_relaxed, ws_body_relaxed)]
    r = check(zone, tmp_path, msgs)
    assert r[0]["dkim"][0]["result"] == "fail" and "body hash" in r[0]["dkim"][0]["reason"]
    assert r[1]["dkim"][0]["result"] == "fail" and "signature" in r[1]["dkim"][0]["reason"]
    assert r[2]["dkim"][0]["result"] == "fail"
    assert r[3]["dkim"][0]["result"] == "pass"  # relaxed: whitespace and folding do not matter
    assert r[4]["dkim"][0]["result"] == "pass"
    for x in r[:3]:
        assert x["dmarc"] == "fail" and x["disposition"] == "reject", x
        assert "dkim=fail" in x["auth_results"]


def test_signature_base64_folding_and_bad_padding(zone, keys, tmp_path):
    """b= and bh= may be folded anywhere (RFC 6376 3.5: FWS inside base64):
    still a pass; a '=' inside b= (padding before the end, not base64 by
    RFC 4648) is a permerror, not a guess."""
    import re
    good = sign(message(), keys)
    head, rest = good.split(b"\r\n\r\n", 1)
    # the value up to the end of the field (a CRLF not followed by WSP)
    m = re.search(rb"\bb=((?:[A-Za-z0-9+/=]|[ \t]|\r\n[ \t])+)", head)
    b64 = re.sub(rb"\s", b"", m.group(1))
    folded_b = b"\r\n\t".join(b64[i:i + 20] for i in range(0, len(b64), 20))
    folded = head[:m.start(1)] + folded_b + head[m.end(1):] + b"\r\n\r\n" + rest
    mid = len(b64) // 2
    padded_b = b64[:mid - 2] + b"==" + b64[mid:]
    padded = head[:m.start(1)] + padded_b + head[m.end(1):] + b"\r\n\r\n" + rest
    r = check(zone, tmp_path, [(folded, BAD, "x@elsewhere.test", 0),
                               (padded, BAD, "x@elsewhere.test", 0)])
    assert r[0]["dkim"][0]["result"] == "pass", r[0]
    assert r[1]["dkim"][0]["result"] == "permerror", r[1]
    assert "b=" in r[1]["dkim"][0]["reason"], r[1]


def test_length_tag_content_after_l_not_trusted(zone, keys, tmp_path):
    """l= signs only a prefix: text appended after it is not trusted; the
    signature gets dkim=policy with the unsigned byte count and DMARC does
    not count it (a phishing paragraph appended to a signed newsletter)."""
    signed = sign(message(), keys, length=True)
    appended = signed + b"URGENT: wire the money to IBAN XX00 0000\r\n"
    r = check(zone, tmp_path, [(signed, BAD, "x@elsewhere.test", 0),
                               (appended, BAD, "x@elsewhere.test", 0)])
    assert r[0]["dkim"][0]["result"] == "pass" and r[0]["dkim"][0]["l"] > 0
    assert r[0]["dmarc"] == "pass"
    s = r[1]["dkim"][0]
    # the appended line, plus the empty lines before it that l= left out
    assert s["result"] == "policy" and s["unsigned"] == len(b"\r\n\r\nURGENT: wire the money to IBAN XX00 0000\r\n")
    assert "unsigned" in s["reason"]
    assert r[1]["dmarc"] == "fail" and r[1]["disposition"] == "reject"
    assert "DKIM_LENGTH_UNSIGNED" in r[1]["spam_headers"]


def test_keys_missing_revoked_weak_and_several_signatures(zone, keys, tmp_path):
    """No key -> permerror; p= empty (revoked) -> permerror; a 512-bit RSA
    key -> permerror (RFC 8301); two signatures are judged one by one."""
    no_key = sign(message(), keys, selector=b"nokey")
    revoked = sign(message(), keys, selector=b"gone")
    weak = sign(message(), keys, selector=b"small", key=keys["small_priv"])
    two = sign(sign(message(), keys, selector=b"ed", algo=b"ed25519-sha256"), keys,
               domain=b"other.test")
    two_bad = two.replace(b"attached", b"attachee")
    r = check(zone, tmp_path, [(m, BAD, "x@elsewhere.test", 0)
                               for m in (no_key, revoked, weak, two, two_bad)])
    assert r[0]["dkim"][0]["result"] == "permerror" and "no key" in r[0]["dkim"][0]["reason"]
    assert r[1]["dkim"][0]["result"] == "permerror" and "revoked" in r[1]["dkim"][0]["reason"]
    assert r[2]["dkim"][0]["result"] == "permerror" and "1024" in r[2]["dkim"][0]["reason"]
    assert sorted(s["result"] for s in r[3]["dkim"]) == ["pass", "pass"]
    assert {s["d"] for s in r[3]["dkim"]} == {"example.test", "other.test"}
    assert [s["result"] for s in r[4]["dkim"]] == ["fail", "fail"]


def test_large_message_streams(zone, keys, tmp_path):
    """A 4 MB body verifies (hashed as it streams, fed in small pieces)."""
    body = b"".join(b"line %07d of the big attachment, base64-ish AAAAAAAAAAAAAAAAAAAA\r\n" % i
                    for i in range(60000))
    m = sign(message(body=body), keys)
    r = check(zone, tmp_path, [(m, GOOD, "alice@example.test", 0)])[0]
    assert r["dkim"][0]["result"] == "pass" and r["spf"] == "pass" and r["dmarc"] == "pass"


def test_unsigned_message_has_dkim_none(zone, keys, tmp_path):
    r = check(zone, tmp_path, [(message(), GOOD, "alice@example.test", 0)])[0]
    assert r["dkim"] == [] and "dkim=none" in r["auth_results"]
    assert r["spf"] == "pass" and r["dmarc"] == "pass" and r["spf_aligned"]


def test_dmarc_policies(zone, keys, tmp_path):
    """Alignment (relaxed and strict), p=reject/quarantine/none, sp= for a
    subdomain without its own record, pct= sampling, no record at all."""
    cases = [
        # forged: From the office's own domain from a host SPF refuses, unsigned
        ("forged-own-domain", message(), BAD, "alice@example.test", 0,
         ("fail", "reject", "reject")),
        # SPF passes for a subdomain of the From domain: relaxed alignment
        ("spf-relaxed-aligned", message(), GOOD, "x@bounce.example.test", 0,
         ("pass", "reject", "none")),
        ("spf-strict-unaligned", message(frm="a@strict.test"), GOOD, "x@bounce.strict.test", 0,
         ("fail", "reject", "reject")),
        ("dkim-subdomain-relaxed", sign(message(), keys, domain=b"mail.example.test"), BAD,
         "x@elsewhere.test", 0, ("pass", "reject", "none")),
        ("dkim-subdomain-strict", sign(message(frm="a@strict.test"), keys, domain=b"mail.strict.test"),
         BAD, "x@elsewhere.test", 0, ("fail", "reject", "reject")),
        ("dkim-other-domain", sign(message(), keys, domain=b"other.test"), BAD, "x@other.test", 0,
         ("fail", "reject", "reject")),
        ("quarantine", message(frm="a@quar.test"), BAD, "a@quar.test", 0,
         ("fail", "quarantine", "quarantine")),
        ("monitor-only", message(frm="a@watch.test"), BAD, "a@watch.test", 0,
         ("fail", "none", "none")),
        ("sp-for-subdomain", message(frm="a@news.corp.test"), BAD, "a@news.corp.test", 0,
         ("fail", "quarantine", "quarantine")),
        ("pct-in-sample", message(frm="a@half.test"), BAD, "a@half.test", 10,
         ("fail", "reject", "reject")),
        ("pct-outside-sample", message(frm="a@half.test"), BAD, "a@half.test", 80,
         ("fail", "reject", "quarantine")),
        ("no-record", message(frm="a@norecord.test"), BAD, "a@norecord.test", 0,
         ("none", "none", "none")),
        ("two-from-fields", message(extra=b"From: mallory@evil.test\r\n"), GOOD,
         "alice@example.test", 0, ("permerror", "none", "none")),
    ]
    res = check(zone, tmp_path, [(m, ip, mf, s) for (_, m, ip, mf, s, _) in cases])
    bad = []
    for (label, *_, want), r in zip(cases, res):
        got = (r["dmarc"], r["policy"], r["disposition"])
        if got != want:
            bad.append(f"{label}: {got} want {want} ({r['dmarc_reason']})")
    assert not bad, "\n".join(bad)
    forged = res[0]
    assert "dmarc=fail (p=reject dis=reject) header.from=example.test" in forged["auth_results"]
    assert forged["auth_results"].startswith("Authentication-Results: mail.example.test;")
    q = res[6]
    assert q["is_spam"] and "X-Spam-Flag: YES" in q["spam_headers"]
