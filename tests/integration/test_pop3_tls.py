"""TLS for POP3: STLS on the plain port (RFC 2595) and implicit TLS on the
POP3S port (RFC 8314), the plaintext-login rule, and a certificate reload
on SIGHUP. Clients: poplib, raw sockets wrapped by Python's ssl."""
import poplib
import signal
import subprocess

import pytest

from pop3_util import (PASSWORD, USER, Raw, insecure_context, login, message, start_pop3d,
                       wait_for)


@pytest.fixture
def pop(mailroom):
    return start_pop3d(mailroom, message("tls one"), message("tls two"))


def test_stls_with_poplib(pop):
    p = poplib.POP3("127.0.0.1", pop.ports["pop3"], timeout=10)
    assert "STLS" in p.capa()
    assert p.stls(insecure_context()).startswith(b"+OK")
    assert p.sock.version() in ("TLSv1.2", "TLSv1.3")
    capa = p.capa()
    assert "STLS" not in capa and "USER" in capa
    p.user(USER)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 2
    assert b"Subject: tls one" in p.retr(1)[1]
    p.quit()
    assert "method=USER tls=yes" in pop.log("pop3d")


def test_pop3s_with_poplib(pop):
    p = poplib.POP3_SSL("127.0.0.1", pop.ports["pop3s"], context=insecure_context(),
                        timeout=10)
    assert p.getwelcome().startswith(b"+OK")
    capa = p.capa()
    assert "STLS" not in capa and "USER" in capa
    p.user(USER)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 2
    assert p.retr(2)[1][2] == b"Subject: tls two"
    p.quit()
    with Raw(pop.ports["pop3s"], tls=True) as r:
        r.line()
        assert r.cmd("STLS") == "-ERR already using TLS"


def test_commands_pipelined_after_stls_are_discarded(pop):
    with Raw(pop.ports["pop3"]) as r:
        r.line()
        # a man in the middle would inject USER after STLS in plaintext
        r.send(f"STLS\r\nUSER {USER}\r\n")
        assert r.line() == "+OK Begin TLS negotiation"
        r.starttls()
        assert r.cmd(f"PASS {PASSWORD}") == "-ERR give USER first"
        assert r.cmd(f"USER {USER}").startswith("+OK")
        assert r.cmd(f"PASS {PASSWORD}").startswith("+OK maildrop has 2")
        assert r.cmd("STLS") == "-ERR command not valid in this state"


def test_plaintext_login_refused_for_a_client_from_another_address(pop):
    # 127.0.0.2 -> 127.0.0.1 is a client at another address: like a LAN
    # client, it must use TLS (only a connection whose two ends share one
    # address counts as never having left the host).
    with Raw(pop.ports["pop3"], source="127.0.0.2") as r:
        r.line()
        assert r.cmd("CAPA").startswith("+OK")
        capa = r.multi()
        assert "STLS" in capa and "USER" not in capa and "SASL PLAIN" not in capa
        assert r.cmd(f"USER {USER}") == ("-ERR [AUTH] Plaintext authentication disallowed "
                                         "on non-secure connections; use STLS")
        assert r.cmd("AUTH PLAIN AGJvYkBleGFtcGxlLnRlc3QAeA==").startswith("-ERR [AUTH]")
        assert r.cmd(f"PASS {PASSWORD}").startswith("-ERR [AUTH] Plaintext")
        assert r.cmd("STLS").startswith("+OK")
        r.starttls()
        assert r.cmd("CAPA").startswith("+OK")
        assert "USER" in r.multi()
        assert r.cmd(f"USER {USER}").startswith("+OK")
        assert r.cmd(f"PASS {PASSWORD}").startswith("+OK maildrop")
    assert "ip=127.0.0.2 event=plaintext-login-refused" in pop.log("pop3d")
    # from the same address as the listener: allowed (webmail on the box)
    with login(pop.ports["pop3"]) as r:
        r.cmd("QUIT")


def test_allow_plaintext_auth_lets_other_addresses_log_in(mailroom):
    m = mailroom
    m.extra["pop3"] = {"allow_plaintext_auth": "yes"}
    m.write_config()
    m.add_user(USER, PASSWORD)
    m.start("pop3d")
    with Raw(m.ports["pop3"], source="127.0.0.3") as r:
        r.line()
        assert r.cmd(f"USER {USER}").startswith("+OK")
        assert r.cmd(f"PASS {PASSWORD}").startswith("+OK maildrop has 0")


def peer_cert(port):
    with Raw(port, tls=True) as r:
        return r.sock.getpeercert(binary_form=True)


def test_sighup_reloads_the_certificate(pop, tmp_path):
    before = peer_cert(pop.ports["pop3s"])
    held = login(pop.ports["pop3s"], tls=True)
    key = pop.data_dir / "tls" / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                    "/CN=reloaded.example.test", "-keyout", str(key), "-out",
                    str(pop.cert_path)], check=True, capture_output=True)
    pop.procs["pop3d"].send_signal(signal.SIGHUP)
    assert wait_for(lambda: "event=tls-reloaded" in pop.log("pop3d"))
    after = peer_cert(pop.ports["pop3s"])
    assert after != before
    # sessions that were open go on with the old context
    assert held.cmd("STAT").startswith("+OK 2 ")
    held.cmd("QUIT")
    # a broken certificate keeps the old one serving
    pop.cert_path.write_text("garbage")
    pop.procs["pop3d"].send_signal(signal.SIGHUP)
    assert wait_for(lambda: "event=tls-reload-failed" in pop.log("pop3d"))
    assert peer_cert(pop.ports["pop3s"]) == after


def test_garbage_instead_of_a_handshake_after_stls_is_dropped(pop):
    with Raw(pop.ports["pop3"]) as r:
        r.line()
        assert r.cmd("STLS") == "+OK Begin TLS negotiation"
        r.send(f"USER {USER}\r\nPASS {PASSWORD}\r\n")  # plaintext where TLS must be
        assert r.closed()
    with Raw(pop.ports["pop3s"]) as r:  # not a TLS client on the POP3S port
        r.send("CAPA\r\n")
        assert r.closed()
    assert "event=login" not in pop.log("pop3d")  # the plaintext PASS never counted
    with login(pop.ports["pop3"]) as r:  # the daemon is fine
        assert r.cmd("STAT").startswith("+OK 2 ")
