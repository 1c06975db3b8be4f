"""mailroom-pop3d speaks RFC 1939 (+ CAPA, RESP-CODES, AUTH PLAIN) the way a
mail client sees it: Python's poplib and scripted raw dialogues against the
real daemon on loopback, mail put in through the store's delivery call."""
import base64
import poplib
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BUILD, free_port, wait_port
from pop3_util import (PASSWORD, USER, Raw, deliver, login, message, pop3_client, start_pop3d,
                       wait_for)

M1 = message("first", ["hello", ".starts with a dot", "..two dots", "", "end"])
M2 = message("second", [f"body line {i}" for i in range(20)])
M3 = message("third", ["x" * 998])
MSGS = [M1, M2, M3]


@pytest.fixture
def pop(mailroom):
    return start_pop3d(mailroom, *MSGS)


client = pop3_client


def unstuffed_lines(msg):
    return msg.decode().split("\r\n")[:-1]


def test_capa_before_and_after_login(pop):
    p = poplib.POP3("127.0.0.1", pop.ports["pop3"], timeout=10)
    assert p.getwelcome().startswith(b"+OK")
    capa = p.capa()
    for cap in ("TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS"):
        assert cap in capa, cap
    assert capa["SASL"] == ["PLAIN"]
    assert capa["IMPLEMENTATION"] == ["Mailroom"]
    assert "APOP" not in capa
    p.user(USER)
    assert p.pass_(PASSWORD).startswith(b"+OK maildrop has 3 messages")
    after = p.capa()
    assert "STLS" not in after and "TOP" in after and "UIDL" in after
    p.quit()


def test_stat_list_uidl_sizes_are_exact_octets(pop):
    p = client(pop)
    sizes = [len(x) for x in MSGS]
    assert p.stat() == (3, sum(sizes))
    resp, lines, _ = p.list()
    assert resp.startswith(b"+OK 3 messages")
    assert lines == [f"{i + 1} {s}".encode() for i, s in enumerate(sizes)]
    assert p.list(2) == f"+OK 2 {sizes[1]}".encode()
    _, uidls, _ = p.uidl()
    uids = [l.split()[1] for l in uidls]
    assert [l.split()[0] for l in uidls] == [b"1", b"2", b"3"]
    assert len(set(uids)) == 3
    for u in uids:
        assert re.fullmatch(rb"[\x21-\x7e]{1,70}", u)
    assert p.uidl(3) == b"+OK 3 " + uids[2]
    p.quit()


def test_retr_is_byte_exact_with_dot_stuffing_on_the_wire(pop):
    with login(pop.ports["pop3"]) as r:
        assert r.cmd("RETR 1") == f"+OK {len(M1)} octets"
        wire = r.until(b"\r\n.\r\n")
        expected = M1.replace(b"\r\n.", b"\r\n..") + b".\r\n"
        assert wire == expected
    p = client(pop)
    for i, msg in enumerate(MSGS, 1):
        resp, lines, octets = p.retr(i)
        assert resp == f"+OK {len(msg)} octets".encode()
        assert [l.decode() for l in lines] == unstuffed_lines(msg)
    p.quit()


def test_top_header_and_n_lines(pop):
    p = client(pop)
    head = unstuffed_lines(M2)[:4]  # 3 headers + blank line
    _, lines, _ = p.top(2, 0)
    assert [l.decode() for l in lines] == head
    _, lines, _ = p.top(2, 3)
    assert [l.decode() for l in lines] == head + ["body line 0", "body line 1", "body line 2"]
    _, lines, _ = p.top(2, 1000)
    assert [l.decode() for l in lines] == unstuffed_lines(M2)
    _, lines, _ = p.top(1, 2)  # a stuffed line inside the TOP range
    assert [l.decode() for l in lines][-2:] == ["hello", ".starts with a dot"]
    p.quit()


def test_dele_rset_and_quit_delete_in_update_state(pop):
    p = client(pop)
    _, uidls, _ = p.uidl()
    assert p.dele(1) == b"+OK message 1 deleted"
    assert p.stat() == (2, len(M2) + len(M3))
    with pytest.raises(poplib.error_proto, match="already deleted"):
        p.retr(1)
    with pytest.raises(poplib.error_proto, match="already deleted"):
        p.list(1)
    with pytest.raises(poplib.error_proto, match="already deleted"):
        p.dele(1)
    _, lines, _ = p.list()
    assert [l.split()[0] for l in lines] == [b"2", b"3"]
    assert p.rset().startswith(b"+OK maildrop has 3 messages")
    assert p.stat()[0] == 3
    p.dele(1)
    p.dele(3)
    assert p.quit() == b"+OK Mailroom POP3 server signing off (2 messages deleted)"
    p = client(pop)
    assert p.stat() == (1, len(M2))
    _, lines, _ = p.uidl()
    assert lines == [b"1 " + uidls[1].split()[1]]  # same UID, renumbered
    assert [l.decode() for l in p.retr(1)[1]] == unstuffed_lines(M2)
    p.quit()
    # the quota charge went with the deleted messages
    used = [l for l in pop.ctl("user", "list").stdout.splitlines() if USER in l]
    assert used, pop.ctl("user", "list").stdout


def test_dropped_connection_after_dele_deletes_nothing(pop):
    r = login(pop.ports["pop3"])
    assert r.cmd("DELE 1").startswith("+OK")
    assert r.cmd("DELE 2").startswith("+OK")
    r.close()  # no QUIT
    # the lock goes with the connection: the next login must work at once
    assert wait_for(lambda: "event=disconnect" in pop.log("pop3d"))
    p = client(pop)
    assert p.stat() == (3, sum(len(x) for x in MSGS))
    p.quit()


def test_retr_of_a_message_gone_since_login_is_err_not_a_cut_answer(pop):
    """The snapshot is taken at login; the body is looked up at RETR (in the
    same statement that reads its first chunk). If the admin removed the
    account meanwhile, the client gets -ERR, never "+OK" and nothing."""
    with login(pop.ports["pop3"]) as r:
        assert r.cmd("RETR 2") == f"+OK {len(M2)} octets"
        assert r.until() == M2 + b".\r\n"
        pop.ctl("user", "del", USER)
        for cmd in ("RETR 1", "TOP 3 0"):
            reply = r.cmd(cmd)
            assert reply.startswith("-ERR [SYS/PERM]"), (cmd, reply)
        assert r.cmd("NOOP") == "+OK"
    assert "event=body-open-failed" in pop.log("pop3d")


def test_commands_out_of_state_and_bad_arguments(pop):
    with Raw(pop.ports["pop3"]) as r:
        assert r.line().startswith("+OK")
        for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "UIDL", "TOP 1 1"):
            assert r.cmd(cmd) == "-ERR command not valid in this state", cmd
    with Raw(pop.ports["pop3"]) as r:
        r.line()
        assert r.cmd("PASS x") == "-ERR give USER first"
        assert r.cmd("XYZZY") == "-ERR unknown command"
        assert r.cmd("RETRIEVE 1") == "-ERR unknown command"
        assert r.cmd(" STAT") == "-ERR empty command"
        assert r.cmd("ST\x01T") == "-ERR control character in command"
        assert r.cmd("USER") == "-ERR missing argument"
    with login(pop.ports["pop3"]) as r:
        assert r.cmd("USER bob") == "-ERR command not valid in this state"
        assert r.cmd("STLS") == "-ERR command not valid in this state"
        assert r.cmd("RETR 0") == "-ERR invalid message number"
        assert r.cmd("RETR abc") == "-ERR invalid message number"
        assert r.cmd("RETR -1") == "-ERR invalid message number"
        assert r.cmd("RETR 4").startswith("-ERR no such message")
        assert r.cmd("RETR") == "-ERR wrong number of arguments"
        assert r.cmd("LIST 1 2") == "-ERR wrong number of arguments"
        assert r.cmd("TOP 1") == "-ERR wrong number of arguments"
        assert r.cmd("TOP 1 x") == "-ERR invalid line count"
        assert r.cmd("noop") == "+OK"  # keywords are case-insensitive
        assert r.cmd("QUIT").startswith("+OK")


def test_line_over_255_octets_is_refused_and_session_goes_on(pop):
    with Raw(pop.ports["pop3"]) as r:
        r.line()
        assert r.cmd("USER " + "a" * 300) == "-ERR line too long"
        assert r.cmd("USER " + "a" * 248).startswith("+OK")  # 255 with CRLF
        assert r.cmd("CAPA").startswith("+OK")
        assert "TOP" in r.multi()


def test_bare_lf_commands_are_accepted(pop):
    with Raw(pop.ports["pop3"]) as r:
        r.line()
        r.send(f"USER {USER}\nPASS {PASSWORD}\nSTAT\n")
        assert r.line().startswith("+OK")
        assert r.line().startswith("+OK maildrop")
        assert r.line().startswith("+OK 3 ")


def test_too_many_bad_commands_end_the_session(pop):
    with Raw(pop.ports["pop3"]) as r:
        r.line()
        for i in range(9):
            assert r.cmd(f"BAD{i}").startswith("-ERR")
        assert "too many bad commands" in r.cmd("BAD9")
        assert r.closed()


def test_pipelined_commands_answer_in_order(pop):
    with Raw(pop.ports["pop3"]) as r:
        r.line()
        r.send(f"CAPA\r\nUSER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\nLIST\r\nUIDL\r\n"
               "RETR 2\r\nTOP 1 0\r\nDELE 3\r\nNOOP\r\nQUIT\r\n")
        assert r.line().startswith("+OK")
        r.multi()
        assert r.line().startswith("+OK")
        assert r.line().startswith("+OK maildrop has 3")
        assert r.line().startswith("+OK 3 ")
        assert r.line().startswith("+OK") and len(r.multi()) == 3
        assert r.line().startswith("+OK") and len(r.multi()) == 3
        assert r.line() == f"+OK {len(M2)} octets"
        assert r.multi() == unstuffed_lines(M2)
        assert r.line().startswith("+OK")
        assert len(r.multi()) == 4
        assert r.line() == "+OK message 3 deleted"
        assert r.line() == "+OK"
        assert "1 messages deleted" in r.line()
        assert r.closed()


def test_wrong_password_is_delayed_growing_and_logged_for_fail2ban(pop):
    delays = []
    for i in range(3):
        with Raw(pop.ports["pop3"]) as r:
            r.line()
            r.cmd(f"USER {USER}")
            t = time.monotonic()
            assert r.cmd("PASS wrong-password-123") == \
                "-ERR [AUTH] invalid user name or password"
            delays.append(time.monotonic() - t)
    assert delays[0] >= 0.45
    assert delays[1] >= 0.95 and delays[1] > delays[0]
    assert delays[2] >= 1.9 and delays[2] > delays[1]
    log = pop.log("pop3d")
    fails = [l for l in log.splitlines() if "event=auth-failed" in l]
    assert len(fails) == 3
    # one line per failure, with the address fail2ban bans, never the password
    for n, l in enumerate(fails, 1):
        assert re.search(r"ip=127\.0\.0\.1 event=auth-failed user=\"bob@example\.test\" "
                         rf"method=USER fails={n}$", l), l
    assert "wrong-password-123" not in log
    assert PASSWORD not in log
    # a good login clears the address's penalty
    p = client(pop)
    p.quit()
    with Raw(pop.ports["pop3"]) as r:
        r.line()
        r.cmd(f"USER {USER}")
        t = time.monotonic()
        r.cmd("PASS nope")
        # a first failure again (0.5 s), not a fourth (4 s); slack for load
        assert time.monotonic() - t < 2.0


def test_three_failed_logins_close_the_session_unknown_user_same_answer(pop):
    with Raw(pop.ports["pop3"]) as r:
        r.line()
        r.cmd("USER nobody@example.test")
        assert r.cmd("PASS x") == "-ERR [AUTH] invalid user name or password"
        r.cmd("USER nobody@elsewhere.test")
        assert r.cmd("PASS x") == "-ERR [AUTH] invalid user name or password"
        r.cmd(f"USER {USER}")
        assert r.cmd("PASS y") == "-ERR [AUTH] invalid user name or password"
        assert r.closed()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def test_auth_plain_initial_response_continuation_and_errors(pop):
    port = pop.ports["pop3"]
    with Raw(port) as r:
        r.line()
        assert r.cmd("AUTH") == "+OK"
        assert r.multi() == ["PLAIN"]
        assert r.cmd("AUTH LOGIN") == "-ERR unsupported authentication mechanism"
        assert r.cmd("AUTH PLAIN !!!!") == "-ERR [AUTH] malformed PLAIN response"
        assert r.cmd("AUTH PLAIN") == "+ "
        assert r.cmd("*") == "-ERR authentication cancelled"
        assert r.cmd("AUTH PLAIN " + b64(f"other@example.test\0{USER}\0{PASSWORD}")) == \
            "-ERR [AUTH] acting as another user is not allowed"
        assert r.cmd("AUTH PLAIN " + b64(f"\0{USER}\0{PASSWORD}")).startswith(
            "+OK maildrop has 3 messages")
        r.cmd("QUIT")
    with Raw(port) as r:
        r.line()
        assert r.cmd("AUTH PLAIN") == "+ "
        assert r.cmd(b64(f"{USER}\0{USER}\0{PASSWORD}")).startswith("+OK maildrop")
        assert r.cmd("STAT").startswith("+OK 3")
        r.cmd("QUIT")
    with Raw(port) as r:
        r.line()
        assert r.cmd("AUTH PLAIN " + b64(f"\0{USER}\0bad")) == \
            "-ERR [AUTH] invalid user name or password"
    assert "method=PLAIN" in pop.log("pop3d")


def second_daemon(m, tmp_path):
    """Another mailroom-pop3d process on other ports over the same store."""
    ports = {"pop3": free_port(), "pop3s": free_port()}
    text = m.cfg_path.read_text()
    text = text.replace(f"127.0.0.1:{m.ports['pop3']}", f"127.0.0.1:{ports['pop3']}")
    text = text.replace(f"127.0.0.1:{m.ports['pop3s']}", f"127.0.0.1:{ports['pop3s']}")
    cfg = tmp_path / "second.conf"
    cfg.write_text(text)
    log = open(tmp_path / "second.log", "ab")
    proc = subprocess.Popen([str(BUILD / "mailroom-pop3d"), "-c", str(cfg)], stdout=log,
                            stderr=subprocess.STDOUT)
    wait_port(ports["pop3"], proc=proc)
    return proc, ports


def test_in_use_lock_across_two_processes_and_stale_lock_cleared(pop, tmp_path):
    proc, ports = second_daemon(pop, tmp_path)
    try:
        first = login(pop.ports["pop3"])
        with Raw(ports["pop3"]) as r:
            r.line()
            r.cmd(f"USER {USER}")
            assert r.cmd(f"PASS {PASSWORD}") == \
                "-ERR [IN-USE] maildrop already in use by another session"
        # a second session in the same process is refused too
        with Raw(pop.ports["pop3"]) as r:
            r.line()
            r.cmd(f"USER {USER}")
            assert r.cmd(f"PASS {PASSWORD}").startswith("-ERR [IN-USE]")
        assert first.cmd("QUIT").startswith("+OK")
        first.close()
        second = login(ports["pop3"])  # free again
        # the holder's process dies without unlocking: its lock is stale
        proc.kill()
        proc.wait()
        second.close()
        again = login(pop.ports["pop3"])
        assert again.cmd("STAT").startswith("+OK 3 ")
        again.cmd("QUIT")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_ends_sessions_without_deleting(pop):
    r = login(pop.ports["pop3"])
    assert r.cmd("DELE 1").startswith("+OK")
    assert pop.stop("pop3d") == 0
    assert r.line() == "-ERR [SYS/TEMP] server shutting down"
    assert r.closed()
    r.close()
    pop.start("pop3d")
    p = client(pop)
    assert p.stat()[0] == 3
    p.quit()


def test_uidl_survives_backup_and_restore(pop, tmp_path):
    p = client(pop)
    before = p.uidl()[1]
    p.quit()
    backup = tmp_path / "backup.db"
    pop.ctl("backup", str(backup))
    pop.stop("pop3d")
    pop.ctl("restore", str(backup))
    pop.start("pop3d")
    p = client(pop)
    assert p.uidl()[1] == before
    p.quit()


def test_uidl_never_repeats_after_restoring_an_older_backup(pop, tmp_path):
    """A client that saw a message delivered after the backup must never
    see its UIDL again on a different message after the restore (it would
    skip that message as already fetched)."""
    backup = tmp_path / "older.db"
    pop.ctl("backup", str(backup))
    deliver(pop, USER, message("after the backup"))
    p = client(pop)
    seen = {l.split()[1] for l in p.uidl()[1]}
    p.quit()
    pop.stop("pop3d")
    pop.ctl("restore", str(backup))
    deliver(pop, USER, message("after the restore"))
    pop.start("pop3d")
    p = client(pop)
    resp, lines, _ = p.uidl()
    p.quit()
    uid_of = {int(l.split()[0]): l.split()[1] for l in lines}
    assert len(uid_of) == 4
    assert uid_of[4] not in seen, "a restored mailbox reused a UIDL a client has seen"
