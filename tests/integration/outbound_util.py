"""Helpers for the outbound (mailroom-queued) tests: a certificate made by
openssl for a test host, and the ISP smarthost as aiosmtpd that requires
TLS and AUTH before it takes mail, either upgraded with STARTTLS (any port)
or TLS from the first byte (RFC 8314 implicit TLS, port 465), and queued
configured to send through it."""
import ssl
import subprocess

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from sockutil import wait_for
from test_outbound import MX2, queue_rows, submit


def make_cert(tmp, name, ip=None):
    cert, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    san = f"DNS:{name}" + (f",IP:{ip}" if ip else "")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class Smarthost:
    """aiosmtpd requiring TLS and AUTH (PLAIN/LOGIN, less `exclude`) before
    mail. STARTTLS first by default; implicit_tls=True speaks TLS from the
    first byte instead (the 465 smarthost).

    messages: (authenticated, mail_from, rcpts, content) per DATA;
    tls_versions: the TLS version of each of those sessions (None when the
    transport does not say); logins: (mechanism, login or None, ok)."""

    def __init__(self, ip, port, cert, key, user, password, exclude=(), implicit_tls=False):
        self.messages, self.tls_versions, self.logins = [], [], []

        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                tls = server.transport.get_extra_info("ssl_object")
                outer.tls_versions.append(tls.version() if tls is not None else None)
                outer.messages.append((session.authenticated, envelope.mail_from,
                                       list(envelope.rcpt_tos), envelope.content))
                return "250 2.0.0 accepted by the ISP" + (" on 465" if implicit_tls else "")

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login == user.encode() \
                and data.password == password.encode()
            outer.logins.append((mechanism, data.login if isinstance(data, LoginPassword) else None, ok))
            # handled=False: aiosmtpd then answers a failure with its 535.
            return AuthResult(success=ok, handled=False)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if implicit_tls:
            # aiosmtpd's auth_require_tls only knows STARTTLS; the whole
            # connection is TLS here, which tls_versions records.
            tls_args = {"ssl_context": ctx, "auth_require_tls": False}
        else:
            tls_args = {"tls_context": ctx, "require_starttls": True, "auth_require_tls": True}
        self.ctl = Controller(Handler(), hostname=ip, port=port, authenticator=authenticator,
                              auth_required=True, auth_exclude_mechanism=list(exclude),
                              **tls_args)
        self.ctl.start()

    def stop(self):
        self.ctl.stop()


def start_smarthost(out, tmp_path, ip, port, user, password, implicit_tls=False):
    """queued set up to send all remote mail to smarthost.test:port with
    user/password and the test's certificate as smarthost_ca; dnsmasq gives
    smarthost.test the address ip (and remote.test its two MX hosts); the
    Smarthost listening there is returned (stop() it). out.cert/out.key are
    the certificate, for a second smarthost in a test."""
    cert, key = make_cert(tmp_path, "smarthost.test")
    out.extra = {"smtp": {"smarthost": f"smarthost.test:{port}", "smarthost_user": user,
                          "smarthost_password": password},
                 "queue": {"smarthost_ca": str(cert)}}
    out.write_config()
    out.start_dns(f"--host-record=smarthost.test,{ip}", *MX2)
    out.cert, out.key = cert, key
    return Smarthost(ip, port, cert, key, user, password, implicit_tls=implicit_tls)


def send_through_smarthost(m, sh, subject):
    """Start queued, submit one message for two remote domains, and wait
    until both recipients reached the smarthost and the queue is empty."""
    m.start("queued")
    submit(m, ["friend@remote.test", "other@elsewhere.test"], subject=subject)
    assert wait_for(lambda: len(sh.messages) >= 1, 15), m.log("queued")
    assert wait_for(lambda: queue_rows(m) == [], 10), m.log("queued")
    rcpts = sorted(r for msg in sh.messages for r in msg[2])
    assert rcpts == ["friend@remote.test", "other@elsewhere.test"]  # all remote mail goes there
