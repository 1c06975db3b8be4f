"""TLS of the panel: 1.2+ only, a certificate installed from the settings
page is served at once, SIGHUP reloads the files, and a broken file
leaves the old certificate serving."""
import signal
import socket
import ssl
import subprocess
import time

import pytest

from test_web_client import Web, tls_context

ADMIN = "admin@example.test"


def served_cert(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with tls_context().wrap_socket(raw) as s:
            return s.getpeercert(binary_form=True), s.version()


def make_cert(tmp, cn):
    key, crt = tmp / f"{cn}.key", tmp / f"{cn}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj", f"/CN={cn}",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return crt.read_text(), key.read_text()


def cn_of(der):
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem,
                         capture_output=True, text=True, check=True).stdout
    return out.strip()


def test_old_tls_versions_are_refused(mailroom):
    m = mailroom
    m.start("webadmin")
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        ctx = tls_context()
        try:
            ctx.minimum_version = ctx.maximum_version = version
        except ValueError:
            continue
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            with socket.create_connection(("127.0.0.1", m.ports["admin"]), timeout=5) as raw:
                ctx.wrap_socket(raw)
    assert served_cert(m.ports["admin"])[1] in ("TLSv1.2", "TLSv1.3")


def test_certificate_upload_and_sighup_reload(mailroom, tmp_path):
    m = mailroom
    m.add_user(ADMIN, "admin-pw-1", role="admin")
    m.start("webadmin")
    port = m.ports["admin"]
    w = Web(port)
    assert w.login(ADMIN, "admin-pw-1").status == 303
    assert "mail.example.test" in cn_of(served_cert(port)[0])

    cert, key = make_cert(tmp_path, "uploaded.example.test")
    other_cert, other_key = make_cert(tmp_path, "other.example.test")
    # a key that does not belong to the certificate is refused
    r = w.submit("/settings", "/settings/certificate", {"cert": cert, "key": other_key})
    assert r.status == 303
    assert "Not installed" in w.get("/settings").text
    assert "mail.example.test" in cn_of(served_cert(port)[0])

    r = w.submit("/settings", "/settings/certificate", {"cert": cert, "key": key})
    assert "Certificate installed" in w.get("/settings").text
    for _ in range(50):
        if "uploaded.example.test" in cn_of(served_cert(port)[0]):
            break
        time.sleep(0.1)
    assert "uploaded.example.test" in cn_of(served_cert(port)[0])
    assert m.cert_path.read_text() == cert
    assert oct(m.data_dir.joinpath("tls", "key.pem").stat().st_mode & 0o777) == "0o600"
    assert w.get("/").status == 200  # the session survived the swap
    assert "certificate" in w.get("/audit").text

    # files changed behind its back: SIGHUP picks them up
    m.cert_path.write_text(other_cert)
    (m.data_dir / "tls" / "key.pem").write_text(other_key)
    m.procs["webadmin"].send_signal(signal.SIGHUP)
    for _ in range(50):
        if "other.example.test" in cn_of(served_cert(port)[0]):
            break
        time.sleep(0.1)
    assert "other.example.test" in cn_of(served_cert(port)[0])

    # a broken file: the old certificate keeps serving, the log says why
    m.cert_path.write_text("garbage\n")
    m.procs["webadmin"].send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert "other.example.test" in cn_of(served_cert(port)[0])
    assert "tls-reload-failed" in m.log("webadmin")
    assert m.procs["webadmin"].poll() is None


def test_hsts_only_with_a_ca_signed_certificate(mailroom, tmp_path):
    m = mailroom
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-days", "30", "-subj", "/CN=Test CA", "-keyout", str(tmp_path / "ca.key"),
        "-out", str(tmp_path / "ca.crt"))
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", "/CN=mail.example.test", "-keyout", str(tmp_path / "leaf.key"),
        "-out", str(tmp_path / "leaf.csr"))
    run("openssl", "x509", "-req", "-in", str(tmp_path / "leaf.csr"), "-CA",
        str(tmp_path / "ca.crt"), "-CAkey", str(tmp_path / "ca.key"), "-CAcreateserial",
        "-days", "30", "-out", str(tmp_path / "leaf.crt"))
    m.cert_path.write_text((tmp_path / "leaf.crt").read_text())
    (m.data_dir / "tls" / "key.pem").write_text((tmp_path / "leaf.key").read_text())
    m.start("webadmin")
    r = Web(m.ports["admin"]).get("/login")
    assert r.header("Strict-Transport-Security") == "max-age=31536000"
