"""Hostile POP3 dialogues against the real mailroom-pop3d (issue 8 item 3):
STLS with a whole login and DELE pipelined behind it, overlong lines up to
1 MiB without CRLF, NUL bytes in commands and AUTH PLAIN, hostile numbers
(huge, negative, hex) for RETR/DELE/TOP/LIST; after each, the reply code
the RFCs ask for and a fresh client still logs in and reads its mail."""
import base64
import socket
import ssl

import pytest

from pop3_util import PASSWORD, USER, Raw, login, message, start_pop3d

N = 3


@pytest.fixture
def pop(mailroom):
    return start_pop3d(mailroom, *[message(f"m{i}") for i in range(N)])


def assert_serves(m, count=N):
    r = login(m.ports["pop3"])
    assert r.cmd("STAT").startswith(f"+OK {count} ")
    assert r.cmd("RETR 1").startswith("+OK")
    r.multi()
    assert r.cmd("QUIT").startswith("+OK")
    r.close()
    assert m.procs["pop3d"].poll() is None


def test_stls_with_login_and_dele_pipelined_discarded(pop):
    with Raw(pop.ports["pop3"]) as r:
        r.line()
        r.send(f"STLS\r\nUSER {USER}\r\nPASS {PASSWORD}\r\nDELE 1\r\nDELE 2\r\nQUIT\r\n")
        assert r.line().startswith("+OK")
        r.starttls()
        # nothing of the plaintext tail was kept: not logged in, nothing deleted
        assert r.cmd("STAT").startswith("-ERR")
        assert r.cmd("QUIT").startswith("+OK")
    assert_serves(pop)


@pytest.mark.parametrize("size", [256, 513, 4096, 65536, 1 << 20])
def test_overlong_line(pop, size):
    with Raw(pop.ports["pop3"], timeout=30) as r:
        r.line()
        try:
            r.send(b"USER " + b"a" * size)
            assert_serves(pop)  # served meanwhile
            r.send(b"\r\n")
            reply = r.line()
            assert reply.startswith("-ERR"), reply
        except (EOFError, BrokenPipeError, ConnectionResetError):
            pass  # closing on a flood is allowed
    assert_serves(pop)


@pytest.mark.parametrize("line", [b"US\0ER " + USER.encode(), b"USER bob\0@example.test",
                                  b"USER " + USER.encode() + b"\0", b"\0", b"CAPA\0",
                                  b"AUTH PLAIN " + base64.b64encode(b"\0" + USER.encode() + b"\0" +
                                                                    PASSWORD.encode() + b"\0x"),
                                  b"AUTH PLAIN " + base64.b64encode(b"\0bob\0@example.test\0" +
                                                                    PASSWORD.encode()),
                                  b"AUTH PLAIN " + base64.b64encode(b"\0" * 300)])
def test_nul_in_commands_and_auth(pop, line):
    with Raw(pop.ports["pop3"]) as r:
        r.line()
        r.send(line + b"\r\n")
        reply = r.line()
        if line.startswith(b"US\0") or line.startswith(b"\0") or line.startswith(b"CAPA\0"):
            assert reply.startswith("-ERR"), (line, reply)
        elif line.startswith(b"USER"):
            # USER may say +OK to anything (no account probing), PASS must then fail
            if reply.startswith("+OK"):
                assert r.cmd(f"PASS {PASSWORD}").startswith("-ERR")
        else:
            assert reply.startswith("-ERR"), (line, reply)
    assert_serves(pop)


@pytest.mark.parametrize("arg", ["0", "-1", "4", "99999999999999999999999", "0x1", "1 2 3",
                                 "+1", "1\t", "١", "1" * 600])
def test_hostile_message_numbers(pop, arg):
    r = login(pop.ports["pop3"])
    for cmd in ("RETR", "DELE", "LIST", "UIDL", "TOP"):
        extra = " 1" if cmd == "TOP" else ""
        reply = r.cmd(f"{cmd} {arg}{extra}")
        assert reply.startswith("-ERR"), (cmd, arg, reply)
    assert r.cmd("TOP 1 -1").startswith("-ERR")
    reply = r.cmd("TOP 1 99999999999999999999")
    assert reply.startswith(("-ERR", "+OK")), reply
    if reply.startswith("+OK"):
        r.multi()
    assert r.cmd("RSET").startswith("+OK")
    r.cmd("QUIT")
    r.close()
    assert_serves(pop)
