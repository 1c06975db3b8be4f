"""The ISP smarthost on port 465: implicit TLS (RFC 8314 3.3), AUTH inside
it, the certificate verified against [queue] smarthost_ca.

queued speaks TLS from the first byte when the smarthost's port is 465, so
the test's smarthost must really listen on 465. To stay clear of other
tests running at the same time it listens on a random 127.x.y.z address
(found free by binding), which dnsmasq gives as smarthost.test's A record.
The smarthost is aiosmtpd with an implicit-TLS context and an
authenticator that checks the password.
"""
import random
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from smtp_util import wait_for  # noqa: F401
from test_outbound import ALICE, MX2, out, queue_rows, submit  # noqa: F401
from test_outbound_tls import make_cert

USER, PASSWORD = "office@isp.test", "isp secret 465"

# The smarthost's auth_require_tls=False (see ImplicitTLSSmarthost) warns.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def free_loopback_465():
    for _ in range(50):
        ip = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        with socket.socket() as s:
            try:
                s.bind((ip, 465))
                return ip
            except OSError:
                continue
    pytest.skip("no free 127.x.y.z:465")


class ImplicitTLSSmarthost:
    def __init__(self, ip, cert, key):
        import ssl
        self.messages, self.logins = [], []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                tls = server.transport.get_extra_info("ssl_object")
                outer.messages.append((session.authenticated, tls is not None and tls.version(),
                                       envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
                return "250 2.0.0 accepted by the ISP on 465"

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login == USER.encode() \
                and data.password == PASSWORD.encode()
            outer.logins.append((mechanism, ok))
            return AuthResult(success=ok, handled=False)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        # aiosmtpd's auth_require_tls only knows STARTTLS; the whole
        # connection is TLS here, which handle_DATA records.
        self.ctl = Controller(Handler(), hostname=ip, port=465, ssl_context=ctx,
                              authenticator=authenticator, auth_required=True,
                              auth_require_tls=False)
        self.ctl.start()

    def stop(self):
        self.ctl.stop()


@pytest.fixture
def smtps(out, tmp_path):
    ip = free_loopback_465()
    cert, key = make_cert(tmp_path, "smarthost.test")
    out.extra = {"smtp": {"smarthost": "smarthost.test:465", "smarthost_user": USER,
                          "smarthost_password": PASSWORD},
                 "queue": {"smarthost_ca": str(cert)}}
    out.write_config()
    out.start_dns(f"--host-record=smarthost.test,{ip}", *MX2)
    sh = ImplicitTLSSmarthost(ip, cert, key)
    yield out, sh
    sh.stop()


def test_smarthost_on_465_implicit_tls_and_auth(smtps):
    m, sh = smtps
    m.start("queued")
    submit(m, ["friend@remote.test", "other@elsewhere.test"], subject="via smtps")
    assert wait_for(lambda: len(sh.messages) >= 1, 15), m.log("queued")
    assert wait_for(lambda: queue_rows(m) == [], 10), m.log("queued")
    rcpts = sorted(r for msg in sh.messages for r in msg[3])
    assert rcpts == ["friend@remote.test", "other@elsewhere.test"]
    for authed, tls, mail_from, _, content in sh.messages:
        assert authed and tls in ("TLSv1.2", "TLSv1.3")
        assert mail_from == ALICE and b"Subject: via smtps" in content
    assert sh.logins and all(ok for _, ok in sh.logins)
    log = m.log("queued")
    assert "event=tls host=smarthost.test verified=yes" in log
    assert "STARTTLS" not in log  # TLS from the first byte, nothing to upgrade
    assert PASSWORD not in log


def test_smarthost_on_465_certificate_must_verify(smtps):
    m, sh = smtps
    del m.extra["queue"]  # the self-signed certificate is now unknown
    m.write_config()
    m.start("queued")
    submit(m, ["friend@remote.test"])
    assert wait_for(lambda: queue_rows(m) and queue_rows(m)[0][2] >= 1, 15), m.log("queued")
    assert "certificate not verified" in queue_rows(m)[0][4]
    assert sh.messages == [] and sh.logins == []  # the password never left
    assert "event=smarthost-auth" not in m.log("queued")
