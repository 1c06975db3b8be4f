"""STARTTLS (RFC 3207), implicit TLS (RFC 8314), AUTH PLAIN/LOGIN (RFC 4954)
and submission policy: AUTH only under TLS, MAIL only after AUTH on 587/465,
no AUTH on the MX port, STARTTLS injection, sender spoofing, relaying only
when authenticated, AUTH failures logged without secrets and delayed."""
import base64
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from smtp_util import USERS, Dialog, mailbox, queue, smtpd, tls_client_ctx  # noqa: F401

MSG = b"Subject: hi\r\n\r\nHello\r\n"


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def test_submission_requires_tls_then_auth(smtpd):
    d = Dialog(smtpd.ports["submission"])
    code, lines = d.cmd("EHLO client")
    assert code == 250 and "STARTTLS" in lines and not any(l.startswith("AUTH") for l in lines)
    d.expect("AUTH PLAIN " + b64("\0alice@example.test\0alice-pw-1"), 538, "5.7.11")
    d.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")
    d.starttls()
    d.expect("MAIL FROM:<alice@example.test>", 503, "5.5.1")  # EHLO again first
    code, lines = d.cmd("EHLO client")
    assert "AUTH PLAIN LOGIN" in lines and "STARTTLS" not in lines
    d.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")  # AUTH first
    d.expect("STARTTLS", 503, "5.5.1")
    d.expect("AUTH PLAIN " + b64("\0alice@example.test\0alice-pw-1"), 235, "2.7.0")
    d.expect("AUTH PLAIN " + b64("\0alice@example.test\0alice-pw-1"), 503, "5.5.1")
    d.expect("MAIL FROM:<alice@example.test>", 250)
    d.expect("RCPT TO:<bob@example.test>", 250)
    d.expect("DATA", 354)
    d.send(b"Subject: x\r\n\r\nsecure\r\n.\r\n")
    d.expect(None, 250)
    got = mailbox(smtpd, "bob@example.test")[0].decode()
    assert "with ESMTPSA" in got and "TLSv1." in got
    d.expect("QUIT", 221)


def test_no_auth_on_mx_port(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO client", 250)
    d.starttls()
    code, lines = d.cmd("EHLO client")
    assert not any(l.startswith("AUTH") for l in lines)
    d.expect("AUTH PLAIN " + b64("\0alice@example.test\0alice-pw-1"), 502, "5.5.1")
    # mail from the internet over STARTTLS is fine, received as ESMTPS
    d.expect("MAIL FROM:<a@remote.test>", 250)
    d.expect("RCPT TO:<alice@example.test>", 250)
    d.expect("DATA", 354)
    d.send(b"Subject: x\r\n\r\nmx over tls\r\n.\r\n")
    d.expect(None, 250)
    assert b"with ESMTPS\r\n\t(TLSv1." in mailbox(smtpd, "alice@example.test")[0]


def test_smtplib_starttls_login_and_relay(smtpd):
    with smtplib.SMTP("127.0.0.1", smtpd.ports["submission"]) as s:
        s.ehlo("client")
        s.starttls(context=tls_client_ctx())
        s.ehlo("client")
        s.login("alice@example.test", USERS["alice@example.test"])
        s.sendmail("alice@example.test", ["bob@example.test", "friend@remote.test"], MSG)
    assert len(mailbox(smtpd, "bob@example.test")) == 1
    assert queue(smtpd) == [("alice@example.test", "friend@remote.test")]


def test_smtps_implicit_tls_auth_login(smtpd):
    with smtplib.SMTP_SSL("127.0.0.1", smtpd.ports["smtps"], context=tls_client_ctx()) as s:
        s.ehlo("client")
        assert "auth" in s.esmtp_features and "starttls" not in s.esmtp_features
        s.user, s.password = "bob@example.test", USERS["bob@example.test"]
        code, _ = s.auth("LOGIN", s.auth_login)
        assert code == 235
        s.sendmail("bob@example.test", ["alice@example.test"], MSG)
    assert len(mailbox(smtpd, "alice@example.test")) == 1


def test_auth_login_dialogue_and_cancel(smtpd):
    d = Dialog(smtpd.ports["smtps"], tls=True)
    d.expect("EHLO client", 250)
    assert d.expect("AUTH LOGIN", 334) == ["VXNlcm5hbWU6"]
    d.expect("*", 501, "5.0.0")
    assert d.expect("AUTH LOGIN", 334) == ["VXNlcm5hbWU6"]
    assert d.expect(b64("alice@example.test"), 334) == ["UGFzc3dvcmQ6"]
    d.expect(b64("alice-pw-1"), 235, "2.7.0")


def test_auth_plain_without_initial_response_and_bad_base64(smtpd):
    d = Dialog(smtpd.ports["smtps"], tls=True)
    d.expect("EHLO client", 250)
    d.expect("AUTH CRAM-MD5", 504, "5.5.4")
    d.expect("AUTH PLAIN", 334)
    d.expect("!!!notbase64", 501, "5.5.2")
    d.expect("AUTH PLAIN", 334)
    d.expect(b64("\0alice@example.test\0alice-pw-1"), 235)


def test_wrong_password_535_delayed_and_logged_without_secret(smtpd):
    d = Dialog(smtpd.ports["smtps"], tls=True)
    d.expect("EHLO client", 250)
    t0 = time.monotonic()
    d.expect("AUTH PLAIN " + b64("\0alice@example.test\0Secret-Wrong-1"), 535, "5.7.8")
    d.expect("AUTH PLAIN " + b64("\0alice@example.test\0Secret-Wrong-2"), 535, "5.7.8")
    # auth_failure_delay = 100ms in tests (start_smtpd): 100 ms, then 200 ms
    assert time.monotonic() - t0 >= 0.3
    d.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")
    d.expect("AUTH PLAIN " + b64("\0ghost@example.test\0whatever"), 535, "5.7.8")
    d.expect(None, 421, "4.7.0")  # three failures end the session
    assert d.closed()
    log = smtpd.log("smtpd")
    assert log.count("event=auth-failed") == 3
    assert 'user="alice@example.test"' in log
    for secret in ("Secret-Wrong", b64("\0alice@example.test\0Secret-Wrong-1")):
        assert secret not in log


def test_sender_spoofing_refused(smtpd):
    smtpd.ctl("alias", "add", "sales@example.test", "alice@example.test")
    with smtplib.SMTP_SSL("127.0.0.1", smtpd.ports["smtps"], context=tls_client_ctx()) as s:
        s.login("alice@example.test", USERS["alice@example.test"])
        for forged in ("bob@example.test", "ceo@remote.test", "nobody@example.test"):
            code, text = s.mail(forged)
            assert code == 553 and text.startswith(b"5.7.1"), (forged, code, text)
            s.rset()
        assert s.mail("sales@example.test")[0] == 250  # her alias
        s.rset()
        assert s.mail("ALICE@example.test")[0] == 250  # case-insensitive
        s.rset()
        assert s.mail("")[0] == 250  # null sender (MDNs)
    assert "event=sender-denied" in smtpd.log("smtpd")


def test_starttls_injection_not_answered(smtpd):
    for port in ("smtp", "submission"):
        d = Dialog(smtpd.ports[port])
        d.expect("EHLO client", 250)
        # Commands pipelined after STARTTLS in the same packet must vanish.
        d.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@remote.test>\r\n")
        code, _ = d.reply()
        assert code == 220
        assert d.buf == b""
        d.sock = tls_client_ctx().wrap_socket(d.sock)
        d.sock.settimeout(1.0)
        with pytest.raises((TimeoutError, ssl.SSLError, OSError)):
            d.sock.recv(100)  # no reply to the injected commands
        d.sock.settimeout(10)
        code, _ = d.cmd("EHLO client")
        assert code == 250
        d.expect("QUIT", 221)
    assert smtpd.log("smtpd").count("event=starttls-pipelined") == 2


def test_openssl_s_client_starttls(smtpd):
    r = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{smtpd.ports['submission']}",
         "-starttls", "smtp", "-quiet"],
        input=b"EHLO client\r\nQUIT\r\n", capture_output=True, timeout=30)
    out = r.stdout.decode()
    assert "250-AUTH PLAIN LOGIN" in out and "221 2.0.0" in out


def test_swaks_auth_submission(smtpd):
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(smtpd.ports["submission"]),
         "--tls", "--auth", "LOGIN", "--auth-user", "bob@example.test",
         "--auth-password", USERS["bob@example.test"], "--from", "bob@example.test",
         "--to", "alice@example.test", "--helo", "client", "--body", "via swaks"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"via swaks" in mailbox(smtpd, "alice@example.test")[0]


def test_relay_needs_auth(smtpd):
    d = Dialog(smtpd.ports["smtp"])
    d.expect("EHLO client", 250)
    d.expect("MAIL FROM:<alice@example.test>", 250)
    d.expect("RCPT TO:<friend@remote.test>", 554, "5.7.1")
    assert queue(smtpd) == []
    assert "event=relay-denied" in smtpd.log("smtpd")


def test_sighup_reloads_certificate(smtpd):
    import signal
    before = ssl.get_server_certificate(("127.0.0.1", smtpd.ports["smtps"]))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                    "/CN=reloaded.example.test", "-keyout",
                    str(smtpd.data_dir / "tls" / "key.pem"), "-out", str(smtpd.cert_path)],
                   check=True, capture_output=True)
    smtpd.procs["smtpd"].send_signal(signal.SIGHUP)
    from smtp_util import wait_for
    assert wait_for(lambda: "event=tls-reloaded" in smtpd.log("smtpd"))
    after = ssl.get_server_certificate(("127.0.0.1", smtpd.ports["smtps"]))
    assert before != after


def test_logins_side_by_side_each_get_their_own_answer(smtpd):
    """smtpd checks passwords on a pool of threads (store/auth_pool.c, the
    one pop3d uses): sessions that AUTH at the same moment must each get
    the answer for their own credentials, not a neighbour's."""
    import threading

    creds = [(u, p) for u, p in USERS.items()] * 4 + [("alice@example.test", "wrong-pw")]
    results = [None] * len(creds)
    start = threading.Barrier(len(creds))

    def login(i, user, password):
        with smtplib.SMTP_SSL("127.0.0.1", smtpd.ports["smtps"], context=tls_client_ctx(),
                              timeout=20) as s:
            s.ehlo("client")
            start.wait()
            try:
                code, _ = s.login(user, password)
            except smtplib.SMTPAuthenticationError as e:
                code = e.smtp_code
            if code == 235:
                # the session is this user's: it may send as itself only
                assert s.mail(user)[0] == 250
                other = [u for u in USERS if u != user][0]
                s.rset()
                assert s.mail(other)[0] == 553
            results[i] = code

    threads = [threading.Thread(target=login, args=(i, u, p)) for i, (u, p) in enumerate(creds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [235] * (len(creds) - 1) + [535]
    log = smtpd.log("smtpd")
    assert log.count("event=auth ") == len(creds) - 1
    # smtplib's login tries PLAIN, then LOGIN after a 535: two failures
    assert log.count("event=auth-failed") == 2


def test_hanging_up_during_a_password_check_loses_nothing(smtpd):
    """A client that sends AUTH and hangs up before the answer (while the
    check runs, or while a wrong password's 535 is held back) leaves
    nothing behind: smtpd keeps serving and the next login works."""
    for i in range(6):
        raw = socket.create_connection(("127.0.0.1", smtpd.ports["smtps"]), timeout=10)
        s = tls_client_ctx().wrap_socket(raw)
        s.recv(1000)  # 220
        s.sendall(b"EHLO client\r\n")
        s.recv(1000)
        pw = "alice-pw-1" if i % 2 == 0 else "Wrong-%d" % i
        s.sendall(("AUTH PLAIN " + b64("\0alice@example.test\0" + pw) + "\r\n").encode())
        s.close()
    time.sleep(0.5)  # the checks finish and the held 535s fall due
    with smtplib.SMTP_SSL("127.0.0.1", smtpd.ports["smtps"], context=tls_client_ctx(),
                          timeout=20) as s:
        assert s.login("alice@example.test", USERS["alice@example.test"])[0] == 235
        s.sendmail("alice@example.test", ["bob@example.test"], MSG)
    assert mailbox(smtpd, "bob@example.test")
    assert smtpd.procs["smtpd"].poll() is None
    log = smtpd.log("smtpd")
    assert ": error:" not in log and "event=auth-error" not in log
