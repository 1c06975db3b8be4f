"""A hostile remote MX against mailroom-queued's pipelining across messages
(RFC 2920 3.1: after a message's dot the next MAIL, RCPT and DATA go in the
same write, the replies matched in order) and its writer thread that deletes
delivered rows off the event loop.

The MX is a raw-socket server in the test on 127.0.0.2 (the harness's
dnsmasq makes it remote.test's MX). It parses the pipelined stream itself,
records every message it really got (recipients, body, whether it said 250
to its dot), and misbehaves by script: fewer replies than commands then a
close, extra 250s, one byte per packet, a 250 to a dot together with a 5xx
to the next MAIL, a 421 mid-group, a close right after a dot before its
reply, a 354 with no recipient accepted. After each, a sane MX takes over
and the queue is flushed. What is checked, per message, is what a user
would: queued never logs a recipient delivered unless the MX said 250 to a
whole message for it, nothing is lost (every recipient is delivered at least
once or bounced because the MX said 5xx to it), nothing is bounced twice or
wrongly, and queued keeps serving. Then SIGKILL while deletes are pending on
the writer thread: after a restart every message is delivered at least once
and none bounced."""
import re
import sqlite3
import signal
import socket
import threading
import time
import types

import pytest

from smtp_util import db, start_smtpd, wait_for
from test_outbound import ALICE, MX2, pop3_messages, submit

CLOSE = object()  # a policy's answer: shut the connection now
N = 4  # messages per scenario, one recipient each: friend1..friendN@remote.test


def rcpt_of(i):
    return f"friend{i}@remote.test"


class ScriptMX:
    """An ESMTP server offering PIPELINING that answers by policy(s, cmd, line).

    policy returns bytes (the reply), None (the sane default) or CLOSE. Replies
    for all complete lines of one read go out in one write (as a pipelining
    server does), or one byte per packet when bytewise."""

    def __init__(self, ip, port, policy=None, bytewise=False):
        self.srv = socket.create_server((ip, port))
        self.policy = policy or (lambda s, cmd, line: None)
        self.bytewise = bytewise
        self.sessions = 0
        self.got = []  # every message whose dot arrived: dict(rcpts, body, acked)
        self.lock = threading.Lock()
        self.conns = []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.sessions += 1
            self.conns.append(c)
            try:
                self.session(c)
            except OSError:
                pass
            finally:
                c.close()

    def send(self, c, out):
        data = b"".join(out)
        out.clear()
        if not data:
            return
        if self.bytewise:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for b in data:
                c.sendall(bytes([b]))
                time.sleep(0.001)
        else:
            c.sendall(data)

    def session(self, c):
        c.settimeout(30)
        s = types.SimpleNamespace(n=0, rcpts=[], sid=self.sessions)
        out = [b"220 mx1.remote.test ESMTP\r\n"]
        self.send(c, out)
        buf, in_data = b"", False
        while True:
            chunk = c.recv(65536)
            if not chunk:
                return
            buf += chunk
            while True:
                if in_data:
                    if buf.startswith(b".\r\n"):
                        body, buf = b"", buf[3:]
                    else:
                        end = buf.find(b"\r\n.\r\n")
                        if end < 0:
                            break
                        body, buf = buf[:end + 2], buf[end + 5:]
                    in_data = False
                    rec = {"rcpts": list(s.rcpts), "body": body, "acked": False, "n": s.n}
                    with self.lock:
                        self.got.append(rec)
                    r = self.policy(s, "DOT", rec)
                    if r is CLOSE:
                        self.send(c, out)
                        return
                    r = r if r is not None else b"250 2.0.0 queued\r\n"
                    rec["acked"] = r[:1] == b"2"
                    s.rcpts = []
                    out.append(r)
                    continue
                i = buf.find(b"\r\n")
                if i < 0:
                    break
                line, buf = buf[:i], buf[i + 2:]
                cmd = line[:4].upper().decode("latin-1")
                if cmd == "MAIL":
                    s.n += 1
                    s.rcpts = []
                r = self.policy(s, cmd, line)
                if r is CLOSE:
                    self.send(c, out)
                    return
                if r is None:
                    r = {"EHLO": b"250-mx1.remote.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n",
                         "HELO": b"250 mx1.remote.test\r\n",
                         "MAIL": b"250 2.1.0 ok\r\n", "RCPT": b"250 2.1.5 ok\r\n",
                         "DATA": b"354 go ahead\r\n" if s.rcpts else b"554 5.5.1 no valid recipients\r\n",
                         "RSET": b"250 2.0.0 ok\r\n", "NOOP": b"250 2.0.0 ok\r\n",
                         "QUIT": b"221 2.0.0 bye\r\n"}.get(cmd, b"502 5.5.2 what\r\n")
                if cmd == "RCPT" and r[:1] == b"2":
                    m = re.search(rb"<([^>]*)>", line)
                    s.rcpts.append(m.group(1).decode() if m else "")
                if cmd == "RSET":
                    s.rcpts = []
                if cmd == "DATA" and r[:3] == b"354":
                    in_data = True
                out.append(r)
                if cmd == "QUIT":
                    self.send(c, out)
                    return
            self.send(c, out)

    def acked(self, rcpt):
        with self.lock:
            return sum(1 for g in self.got if g["acked"] and rcpt in g["rcpts"])

    def close(self):
        # the listener and any session still open (one hung out of step)
        for c in [self.srv] + self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.srv.close()


def queue_rcpts(m):
    with db(m) as c:
        return sorted(r[0] for r in c.execute("SELECT recipient FROM queue"))


def delivered_log(m):
    """Recipients queued logged as delivered, with how often."""
    out = {}
    for to in re.findall(r"event=delivered .*?to=<([^>]*)>", m.log("queued")):
        out[to] = out.get(to, 0) + 1
    return out


def dsn_rcpts(m):
    """The recipients named in the bounces in alice's mailbox, one entry per bounce."""
    found = []
    for raw in pop3_messages(m, ALICE):
        found += re.findall(rb"Final-Recipient: rfc822; (\S+)", raw)
    return sorted(x.decode() for x in found)


@pytest.fixture
def box(mailroom, monkeypatch):
    start_smtpd(mailroom, monkeypatch)
    mailroom.start("pop3d")
    mailroom.start_dns(*MX2[:1], MX2[2])
    return mailroom


def submit_all(m, tag):
    for i in range(1, N + 1):
        submit(m, [rcpt_of(i)], subject=f"{tag} {i}", body=f"message {i} of {tag}\r\n.leading dot\r\n")


def check_never_delivered_unacked(m, *mxs):
    for to, n in delivered_log(m).items():
        assert sum(mx.acked(to) for mx in mxs) >= 1, (
            f"queued logged {to} delivered but no MX said 250 to a whole message for it",
            [(g["rcpts"], g["acked"]) for mx in mxs for g in mx.got], m.log("queued")[-4000:])


def check_no_misdelivery(*mxs):
    # a message's text only ever goes in a transaction for its own recipient
    for mx in mxs:
        for g in mx.got:
            for i in map(int, re.findall(rb"message (\d+) of ", g["body"])):
                assert g["rcpts"] == [rcpt_of(i)], (
                    f"message {i}'s text went to {g['rcpts']} (acked={g['acked']})", g["body"][-300:])


def body_ok(rec, i, tag):
    return f"Subject: {tag} {i}".encode() in rec["body"] and \
        f"message {i} of {tag}\r\n..leading dot\r\n".encode() in rec["body"]


def flush(m):
    # mailroomctl gives up at once on a busy store while queued commits
    # (seen as "the database is busy, try again"): do as it says
    for _ in range(50):
        if m.ctl("queue", "flush", check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise AssertionError("queue flush stayed busy")


def run(m, tag, policy=None, bytewise=False, bounced=(), settle=None):
    """Hostile MX for one attempt, then a sane one; returns (hostile, sane)."""
    submit_all(m, tag)
    mx = ScriptMX("127.0.0.2", m.ports["relay"], policy, bytewise)
    m.start("queued")
    try:
        # the attempt is over: every row either gone or tried at least once
        def settled():
            with db(m) as c:
                rows = c.execute("SELECT attempts FROM queue").fetchall()
            return all(r[0] >= 1 for r in rows)
        assert wait_for(settle or settled, 40), m.log("queued")[-4000:]
        assert m.procs["queued"].poll() is None, m.log("queued")[-4000:]
    finally:
        mx.close()
    check_never_delivered_unacked(m, mx)
    sane = ScriptMX("127.0.0.2", m.ports["relay"])
    try:
        if queue_rcpts(m):
            flush(m)
        assert wait_for(lambda: queue_rcpts(m) == [], 40), (queue_rcpts(m), m.log("queued")[-4000:])
        check_never_delivered_unacked(m, mx, sane)
        check_no_misdelivery(mx, sane)
        # nothing lost: each recipient got a whole message (with its dot-stuffed
        # line intact) or was bounced because the hostile MX said 5xx to it
        for i in range(1, N + 1):
            to = rcpt_of(i)
            if to in bounced:
                continue
            whole = [g for x in (mx, sane) for g in x.got
                     if g["acked"] and to in g["rcpts"] and body_ok(g, i, tag)]
            assert whole, (to, [(g["rcpts"], g["acked"], g["body"][-80:]) for x in (mx, sane) for g in x.got])
        # bounces: exactly the 5xx'd ones, once each
        assert wait_for(lambda: dsn_rcpts(m) == sorted(bounced), 15), (dsn_rcpts(m), m.log("queued")[-3000:])
        time.sleep(0.5)
        assert dsn_rcpts(m) == sorted(bounced)
        assert m.procs["queued"].poll() is None
    finally:
        sane.close()
    return mx, sane


def test_sane_pipelined_group_each_message_once(box):
    mx, sane = run(box, "sane")
    assert sane.sessions == 0  # all went on the first connection
    for i in range(1, N + 1):
        assert mx.acked(rcpt_of(i)) == 1
    assert delivered_log(box) == {rcpt_of(i): 1 for i in range(1, N + 1)}


def test_replies_one_byte_per_packet(box):
    mx, sane = run(box, "bytewise", bytewise=True)
    for i in range(1, N + 1):
        assert mx.acked(rcpt_of(i)) == 1
    assert delivered_log(box) == {rcpt_of(i): 1 for i in range(1, N + 1)}


def test_dot_250_with_5xx_to_next_mail_in_one_write(box):
    def policy(s, cmd, line):
        if cmd == "MAIL" and s.n == 2:
            return b"550 5.7.1 sender refused for this one\r\n"
        if cmd == "RCPT" and s.n == 2:
            return b"503 5.5.1 need MAIL\r\n"
        if cmd == "DATA" and s.n == 2:
            return b"503 5.5.1 need RCPT\r\n"
        return None
    mx, sane = run(box, "mail5xx", policy, bounced=(rcpt_of(2),))
    assert delivered_log(box).get(rcpt_of(1)) == 1
    assert rcpt_of(2) not in delivered_log(box)


def test_421_mid_pipeline_retried_not_lost(box):
    def policy(s, cmd, line):
        if cmd == "MAIL" and s.n == 2:
            return b"421 4.3.2 going down\r\n"
        return None
    mx, sane = run(box, "421", policy)
    assert mx.acked(rcpt_of(1)) == 1 and delivered_log(box).get(rcpt_of(1)) == 1
    # message 2 got the 421: not delivered on that connection (a later one may take it)
    assert not any(g["n"] == 2 and rcpt_of(2) in g["rcpts"] for g in mx.got if g["acked"] and g is mx.got[0])


def test_close_after_dot_before_its_reply(box):
    def policy(s, cmd, line):
        if cmd == "DOT" and s.n == 2:
            return CLOSE
        return None
    mx, sane = run(box, "closedot", policy)
    # message 2 reached the MX but was never acknowledged: sent again
    assert any(rcpt_of(2) in g["rcpts"] and not g["acked"] for g in mx.got)
    assert mx.acked(rcpt_of(2)) + sane.acked(rcpt_of(2)) >= 1


def test_fewer_replies_then_close(box):
    # message 1's dot answered, then only the MAIL of message 2, then gone
    def policy(s, cmd, line):
        if cmd == "RCPT" and s.n == 2:
            return CLOSE
        return None
    mx, sane = run(box, "fewer", policy)
    assert mx.acked(rcpt_of(1)) == 1
    # the others reached the MX again (reconnection or the sane MX), run() checks


@pytest.mark.parametrize("where", ["after-mail", "after-354", "after-dot", "many"])
def test_extra_250s_never_mark_an_unsent_message_delivered(box, where):
    def policy(s, cmd, line):
        if where == "after-mail" and cmd == "MAIL" and s.n == 1:
            return b"250 2.1.0 ok\r\n250 2.0.0 extra\r\n"
        if where == "after-354" and cmd == "DATA" and s.n == 1:
            return b"354 go ahead\r\n250 2.0.0 extra before the body\r\n"
        if where == "after-dot" and cmd == "DOT" and line["n"] == 1:
            return b"250 2.0.0 queued\r\n250 2.0.0 extra\r\n250 2.0.0 extra\r\n"
        if where == "many" and cmd == "EHLO":
            return (b"250-mx1.remote.test\r\n250 PIPELINING\r\n" + b"250 2.0.0 extra\r\n" * 12)
        return None

    def settle():  # the hostile attempt may hang out of step: give it a few seconds
        time.sleep(6)
        return True
    mx, sane = run(box, f"extra {where}", policy, settle=settle)


def test_354_with_no_recipient_accepted(box):
    def policy(s, cmd, line):
        if cmd == "RCPT" and s.n == 2:
            return b"550 5.1.1 no such user\r\n"
        if cmd == "DATA" and s.n == 2:
            return b"354 go ahead anyway\r\n"
        return None
    mx, sane = run(box, "354none", policy, bounced=(rcpt_of(2),))
    empty = [g for g in mx.got if g["n"] == 2]
    # the client ended that DATA with a lone dot: message 2's text never went
    assert empty and all(g["body"] == b"" and g["rcpts"] == [] for g in empty), mx.got
    assert rcpt_of(2) not in delivered_log(box)


def test_sigkill_with_pending_deletes_delivers_at_least_once(box):
    n = 30
    for i in range(1, n + 1):
        submit(box, [rcpt_of(i)], subject=f"kill {i}", body=f"message {i} of kill\r\n")
    killed = threading.Event()

    def policy(s, cmd, line):
        # SIGKILL queued right as the MX acknowledges message 10's dot: the
        # rows of the messages just acknowledged are waiting on the writer
        if cmd == "DOT" and line["n"] == 10 and not killed.is_set():
            killed.set()
            box.procs["queued"].send_signal(signal.SIGKILL)
            return CLOSE
        return None
    mx = ScriptMX("127.0.0.2", box.ports["relay"], policy)
    box.start("queued")
    try:
        assert wait_for(killed.is_set, 30), box.log("queued")[-3000:]
        box.procs["queued"].wait(10)
    finally:
        mx.close()
    left = queue_rcpts(box)
    sane = ScriptMX("127.0.0.2", box.ports["relay"])
    try:
        box.start("queued")
        flush(box)
        assert wait_for(lambda: queue_rcpts(box) == [], 40), (queue_rcpts(box), box.log("queued")[-3000:])
        for i in range(1, n + 1):
            to = rcpt_of(i)
            assert mx.acked(to) + sane.acked(to) >= 1, (to, left)
            # acknowledged by the hostile MX and still queued: sent again, fine;
            # not acknowledged: must have been left in the queue
            if mx.acked(to) == 0:
                assert to in left, (to, left)
        assert dsn_rcpts(box) == []
    finally:
        sane.close()


def test_queue_flush_while_another_writer_commits(box):
    # Was a bug: flush updated each row inside store_queue_list's open SELECT,
    # and after another connection's commit SQLite refused the upgrade to a
    # write at once (SQLITE_BUSY, no busy handler). Now one UPDATE.
    for i in range(1, 11):
        submit(box, [rcpt_of(i)], subject=f"flush {i}")
    stop = threading.Event()

    def writer():  # as queued's writer thread does: small commits, back to back
        c = sqlite3.connect(str(box.db_path), timeout=10)
        n = 0
        while not stop.is_set():
            with c:
                c.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('h7.probe', ?)", (str(n),))
            n += 1
            time.sleep(0.001)
        c.close()
    t = threading.Thread(target=writer)
    t.start()
    try:
        failed = [r.stderr for r in (box.ctl("queue", "flush", check=False) for _ in range(40))
                  if r.returncode != 0]
    finally:
        stop.set()
        t.join()
    assert failed == [], f"{len(failed)} of 40 flushes failed: {failed[0]}"


def test_large_messages_pipelined_byte_exact(box):
    # bodies beyond queued's 256 KB output mark: the text goes out over many
    # write callbacks while the next MAIL/RCPT/DATA wait behind the dot
    big = "".join(f".{k:07d} line starting with a dot, and more text\r\n" for k in range(8000))
    for i in range(1, 4):
        submit(box, [rcpt_of(i)], subject=f"big {i}", body=f"message {i} of big\r\n{big}end {i}\r\n")
    mx = ScriptMX("127.0.0.2", box.ports["relay"], bytewise=False)
    box.start("queued")
    try:
        assert wait_for(lambda: queue_rcpts(box) == [], 40), box.log("queued")[-3000:]
        want = ("\r\n" + big).replace("\r\n.", "\r\n..")[2:].encode()
        for i in range(1, 4):
            got = [g for g in mx.got if g["rcpts"] == [rcpt_of(i)] and g["acked"]]
            assert len(got) == 1, (i, [(g["rcpts"], g["acked"]) for g in mx.got])
            body = got[0]["body"]
            # the MX got the wire form: every line starting with '.' doubled
            assert f"message {i} of big\r\n".encode() + want + f"end {i}\r\n".encode() in body
        check_no_misdelivery(mx)
        assert mx.sessions == 1
    finally:
        mx.close()


@pytest.mark.parametrize("code", [b"554 5.6.0 content refused\r\n", b"451 4.3.0 try later\r\n"])
def test_dot_refused_while_next_group_in_flight(box, code):
    # message 2's dot refused when message 3's MAIL/RCPT/DATA already went
    def policy(s, cmd, line):
        if cmd == "DOT" and line["n"] == 2:
            return code
        return None
    bounced = (rcpt_of(2),) if code.startswith(b"5") else ()
    mx, sane = run(box, f"dot{code[:3].decode()}", policy, bounced=bounced)
    assert rcpt_of(2) not in delivered_log(box) or sane.acked(rcpt_of(2)) == 1
    for i in (1, 3, 4):
        assert mx.acked(rcpt_of(i)) == 1
