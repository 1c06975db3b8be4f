"""pop3d's RETR/TOP now read bodies in place from the store's 64 KiB SQLite
chunks and dot-stuff them 16 bytes at a time (SSE2). Hostile message shapes
for exactly that path: lines starting with '.' at every offset of a 16-byte
block and right at, before and after each 64 KiB chunk boundary, CR and LF
split across a boundary, a body of nothing but dots, TOP with 0 and huge n,
and a message deleted by another session between LIST and RETR. What is
checked is what a client sees: the octets of RETR (unstuffed byte-exactly
from the raw stream, and through poplib) equal the stored message, LIST's
size equals those octets, and TOP gives the headers plus n body lines."""
import poplib
import sqlite3

import pytest

from pop3_util import PASSWORD, USER, Raw, login, start_pop3d

CHUNK = 64 * 1024


def head(subject):
    return f"From: alice@remote.test\r\nTo: {USER}\r\nSubject: {subject}\r\n\r\n".encode()


def filled_to(prefix, offset):
    """prefix + filler lines so that the next byte is at offset."""
    need = offset - len(prefix)
    assert need >= 3
    out = [prefix]
    while need > 0:
        n = min(need, 900)
        if need - n in (1, 2):  # never leave a remainder too short for a line
            n -= 3
        out.append(b"x" * (n - 2) + b"\r\n")
        need -= n
    data = b"".join(out)
    assert len(data) == offset
    return data


def boundary_message(shift):
    """A dot line starting at CHUNK+shift and at 2*CHUNK+shift (so the CRLF
    before it sits across the boundary for shift 0 and 1), a bare dot line,
    dots at every offset of a 16-byte block, and a long tail."""
    m = filled_to(head(f"boundary {shift}"), CHUNK + shift)
    m += b".at the first boundary\r\n"
    m = filled_to(m, 2 * CHUNK + shift)
    m += b".\r\n..\r\n.\r\n"
    for k in range(1, 40):  # line lengths 3..41: a dot at every offset mod 16
        m += b"." + b"d" * k + b"\r\n"
    m += b"tail\r\n" * 3000
    return m


MESSAGES = [boundary_message(s) for s in range(-4, 5)]
MESSAGES += [
    head("only dots") + b".\r\n" * 30000,             # 90 KB of lone dots across a chunk edge
    head("dot runs") + b"".join(b"." * n + b"\r\n" for n in range(1, 200)) * 10,
    head("sixteen") + (b"." + b"a" * 13 + b"\r\n") * 10000,  # a dot at each 16-byte block start
    head("cr at edge") + b"y" * (CHUNK - len(head("cr at edge")) - 1) + b"\r\n.next\r\n.\r\n",
]


@pytest.fixture
def pop(mailroom):
    return start_pop3d(mailroom, *MESSAGES)


def unstuff(raw):
    """The message from a RETR's raw bytes after the status line."""
    assert raw.endswith(b"\r\n.\r\n"), raw[-40:]
    lines = raw[:-3].split(b"\r\n")
    assert lines[-1] == b""
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)


def test_retr_octets_equal_message_and_list_size(pop):
    r = login(pop.ports["pop3"], timeout=30)
    try:
        assert r.cmd("LIST").startswith("+OK")
        sizes = [int(l.split()[1]) for l in r.multi()]
        assert len(sizes) == len(MESSAGES)
        for i, want in enumerate(MESSAGES, 1):
            status = r.cmd(f"RETR {i}")
            assert status.startswith("+OK"), status
            raw = r.until()
            # a line starting with '.' is always stuffed: no line is a lone '.'
            # before the end, and no byte sequence CRLF.CRLF before the end
            assert b"\r\n.\r\n" not in raw[:-5], i
            got = unstuff(raw)
            assert got == want, (i, len(got), len(want),
                                 next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), None))
            assert sizes[i - 1] == len(want), (i, sizes[i - 1], len(want))
    finally:
        r.close()


def test_poplib_retr_and_top(pop, monkeypatch):
    monkeypatch.setattr(poplib, "_MAXLINE", 1 << 20)  # "cr at edge" has a 64 KB line
    p = poplib.POP3("127.0.0.1", pop.ports["pop3"], timeout=30)
    try:
        p.user(USER)
        p.pass_(PASSWORD)
        for i, want in enumerate(MESSAGES, 1):
            resp, lines, octets = p.retr(i)
            assert b"\r\n".join(lines) + b"\r\n" == want, i
            hdr, body = want.split(b"\r\n\r\n", 1)
            body_lines = body.split(b"\r\n")[:-1]
            for n in (0, 1, 3):
                resp, lines, _ = p.top(i, n)
                assert lines == hdr.split(b"\r\n") + [b""] + body_lines[:n], (i, n)
            for n in (len(body_lines), 2147483647):
                resp, lines, _ = p.top(i, n)
                assert b"\r\n".join(lines) + b"\r\n" == want, (i, n)
        # beyond 2^31-1: pop3d refuses the count (-ERR), the session goes on
        with pytest.raises(poplib.error_proto):
            p.top(1, 4294967296)
        assert p.noop().startswith(b"+OK")
    finally:
        p.quit()


@pytest.mark.parametrize("n", ["-1", "+3", "0x10", "1e3", "", "1 2"])
def test_top_bad_n(pop, n):
    with login(pop.ports["pop3"]) as r:
        reply = r.cmd(f"TOP 1 {n}".rstrip())
        assert reply.startswith("-ERR"), reply
        assert r.cmd("NOOP").startswith("+OK")


def delete_behind(m, indexes):
    """Another writer (an admin tool, a rule, a second store user) removes
    messages with their bodies and chunks, straight in the store."""
    c = sqlite3.connect(str(m.db_path), timeout=10)
    try:
        rows = c.execute("SELECT id, body_id FROM mailbox ORDER BY uid").fetchall()
        with c:
            for i in indexes:
                mid, body = rows[i - 1]
                c.execute("DELETE FROM mailbox WHERE id = ?", (mid,))
                c.execute("DELETE FROM body_chunks WHERE body_id = ?", (body,))
                c.execute("DELETE FROM bodies WHERE id = ?", (body,))
    finally:
        c.close()


def test_deleted_by_another_writer_between_list_and_retr(pop):
    # pop3d locks the maildrop (a second POP3 login is refused), so the
    # "other session" is another store writer
    a = login(pop.ports["pop3"], timeout=30)
    try:
        assert a.cmd("LIST").startswith("+OK")
        a.multi()
        delete_behind(pop, (2, 10))
        for i in (2, 10, 1, 11):
            status = a.cmd(f"RETR {i}")
            if status.startswith("-ERR"):
                assert i in (2, 10), status  # gone: an error, never other bytes
                continue
            assert status.startswith("+OK"), status
            assert unstuff(a.until()) == MESSAGES[i - 1], i
            status = a.cmd(f"TOP {i} 2")
            assert status.startswith("+OK") or i in (2, 10), status
            if status.startswith("+OK"):
                a.until()
        assert a.cmd("NOOP").startswith("+OK")
        assert a.cmd("DELE 1").startswith("+OK")
        assert a.cmd("QUIT").startswith("+OK")
    finally:
        a.close()
    with login(pop.ports["pop3"]) as c:
        assert c.cmd("STAT").startswith(f"+OK {len(MESSAGES) - 3} ")
        assert c.cmd("QUIT").startswith("+OK")
    assert pop.procs["pop3d"].poll() is None
