"""The ISP smarthost on port 465: implicit TLS (RFC 8314 3.3), AUTH inside
it, the certificate verified against [queue] smarthost_ca.

queued speaks TLS from the first byte when the smarthost's port is 465, so
the test's smarthost must really listen on 465. To stay clear of other
tests running at the same time it listens on a random 127.x.y.z address
(found free by binding), which dnsmasq gives as smarthost.test's A record.
The smarthost is outbound_util's aiosmtpd with an implicit-TLS context and
an authenticator that checks the password.
"""
import random
import socket

import pytest

from outbound_util import send_through_smarthost, start_smarthost
from smtp_util import wait_for  # noqa: F401
from test_outbound import ALICE, out, queue_rows, submit  # noqa: F401

USER, PASSWORD = "office@isp.test", "isp secret 465"

# The smarthost's auth_require_tls=False (implicit TLS, see outbound_util) warns.
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


@pytest.fixture
def smtps(out, tmp_path):
    ip = free_loopback_465()
    sh = start_smarthost(out, tmp_path, ip, 465, USER, PASSWORD, implicit_tls=True)
    yield out, sh
    sh.stop()


def test_smarthost_on_465_implicit_tls_and_auth(smtps):
    m, sh = smtps
    send_through_smarthost(m, sh, "via smtps")
    for (authed, mail_from, _, content), tls in zip(sh.messages, sh.tls_versions):
        assert authed and tls in ("TLSv1.2", "TLSv1.3")
        assert mail_from == ALICE and b"Subject: via smtps" in content
    assert sh.logins and all(ok for _, _, ok in sh.logins)
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
