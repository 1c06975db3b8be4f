#!/usr/bin/python3
"""bench/outbound.py - mailroom-queued beside Postfix delivering the same
queue to the same loopback sink.

Both start with N messages of SIZE bytes already queued for one remote
domain and not yet tried; the clock runs from "go" until the queue is
empty, and every message must have been accepted by the sink (Postfix's
smtp-sink on 127.0.0.2, no disk writes, so the sink is never the limit).

- Mailroom: smtp-source puts the messages in through mailroom-smtpd's MX
  port to an alias that forwards to rcpt@remote.test (so each becomes a
  queue row), with mailroom-queued stopped; "go" is starting it. DNS: a
  loopback dnsmasq (remote.test MX -> 127.0.0.2), relay_port = the sink.
- Postfix: a private instance (postfix -c TMPDIR) with relayhost
  [127.0.0.2]:PORT; smtp-source puts the messages in through its smtpd
  while defer_transports = smtp holds them; "go" is clearing that,
  `postfix reload` and `postqueue -f`.

Run as root (Postfix needs it): sudo bench/outbound.py [-n 2000] [--size 10240]
Prints messages/s for each and the ratio. Not a test: nothing asserts.
The machine is shared: read the ratio, and run it more than once.
"""
import argparse
import os
import pathlib
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import conftest  # noqa: E402  (the Mailroom harness: config, dnsmasq, daemons)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {host}:{port}")


def smtp_source(port, n, size, to):
    subprocess.run(["smtp-source", "-s", "20", "-m", str(n), "-l", str(size), "-d",
                    "-f", "bench@sender.test", "-t", to, f"127.0.0.1:{port}"],
                   check=True, capture_output=True, timeout=600)


def wait_until(pred, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


class Sink:
    def __init__(self, port):
        self.proc = subprocess.Popen(["smtp-sink", "-u", "nobody", f"127.0.0.2:{port}", "1024"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port, "127.0.0.2")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def run_mailroom(root, n, size, sink_port, build):
    os.environ["MAILROOM_BUILD"] = str(build)
    conftest.BUILD = pathlib.Path(build)
    m = conftest.Mailroom(root)
    m.ports["relay"] = sink_port
    # smtp-source's 20 sessions from loopback must not meet the greeting
    # delay or the per-IP session cap meant for strangers.
    m.extra = {"server": {"log_level": "info"},
               "smtp": {"greeting_delay": "0", "limit_loopback": "no"}}
    try:
        m.init()
        m.start_dns("--mx-host=remote.test,mx1.remote.test,10",
                    "--host-record=mx1.remote.test,127.0.0.2")
        m.ctl("alias", "add", "fwd@example.test", "rcpt@remote.test")
        m.start("smtpd")
        smtp_source(m.ports["smtp"], n, size, "fwd@example.test")
        db = f"file:{m.db_path}?mode=ro"
        import sqlite3

        def queued():
            with sqlite3.connect(db, uri=True, timeout=10) as c:
                return c.execute("SELECT count(*) FROM queue").fetchone()[0]
        assert queued() == n, f"{queued()} rows queued, want {n}"
        t0 = time.monotonic()
        m.start("queued", wait=False)
        if not wait_until(lambda: queued() == 0, 600):
            raise SystemExit("mailroom-queued did not empty its queue:\n" + m.log("queued")[-3000:])
        dt = time.monotonic() - t0
        delivered = m.log("queued").count("event=delivered")
        assert delivered == n, f"{delivered} delivered, want {n}"
        return dt
    finally:
        m.close()


class Postfix:
    def __init__(self, root, relay_port):
        self.dir = root / "postfix"
        self.dir.mkdir()
        os.chmod(root, 0o755)
        self.port = free_port()
        self.main = f"""compatibility_level = 3.6
queue_directory = {self.dir}/spool
data_directory = {self.dir}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.example.test
mydomain = example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.2]:{relay_port}
smtp_tls_security_level = may
message_size_limit = 30000000
maillog_file_prefixes = {self.dir}
maillog_file = {self.dir}/maillog
smtputf8_enable = no
"""
        (self.dir / "main.cf").write_text(self.main + "defer_transports = smtp\n")
        (self.dir / "spool").mkdir()
        (self.dir / "data").mkdir()
        pf = pwd.getpwnam("postfix")
        os.chown(self.dir / "data", pf.pw_uid, pf.pw_gid)
        out = []
        for line in pathlib.Path("/etc/postfix/master.cf").read_text().splitlines():
            if re.match(r"^smtp\s+inet\s", line):
                line = f"127.0.0.1:{self.port} inet n - n - - smtpd"
            elif re.match(r"^\w[\w-]*\s+(unix|inet|fifo|unix-dgram|pass)\s", line):
                f = line.split()
                if len(f) >= 8 and f[4] == "y":
                    f[4] = "n"  # no chroot in a temp instance
                line = " ".join(f)
            out.append(line)
        if not any(l.startswith("postlog") for l in out):
            out.append("postlog unix-dgram n - n - 1 postlogd")
        (self.dir / "master.cf").write_text("\n".join(out) + "\n")

    def cmd(self, *args):
        return subprocess.run(list(args), capture_output=True, text=True, timeout=120)

    def count(self, *queues):
        n = 0
        for q in queues:
            d = self.dir / "spool" / q
            if d.exists():
                n += sum(len(files) for _, _, files in os.walk(d))
        return n

    def queued(self):
        return self.count("incoming", "active", "deferred", "maildrop")

    def run(self, n, size):
        self.cmd("postfix", "-c", str(self.dir), "check")
        r = self.cmd("postfix", "-c", str(self.dir), "start")
        if r.returncode != 0:
            raise SystemExit("postfix did not start: " + r.stdout + r.stderr)
        try:
            wait_port(self.port)
            smtp_source(self.port, n, size, "rcpt@remote.test")
            if not wait_until(lambda: self.count("deferred") == n, 120, 0.1):
                raise SystemExit(f"postfix holds {self.queued()} messages, want {n} deferred")
            (self.dir / "main.cf").write_text(self.main)
            self.cmd("postfix", "-c", str(self.dir), "reload")
            time.sleep(1)  # the reload is asynchronous: let qmgr restart
            t0 = time.monotonic()
            self.cmd("postqueue", "-c", str(self.dir), "-f")
            if not wait_until(lambda: self.queued() == 0, 600):
                raise SystemExit(f"postfix still holds {self.queued()} messages")
            dt = time.monotonic() - t0
            log = (self.dir / "maillog").read_text(errors="replace")
            sent = len(re.findall(r"status=sent", log))
            assert sent == n, f"postfix: {sent} sent, want {n}"
            return dt
        finally:
            self.cmd("postfix", "-c", str(self.dir), "stop")
            time.sleep(1)
            self.cmd("postfix", "-c", str(self.dir), "abort")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--size", type=int, default=10240)
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--runs", type=int, default=3, help="alternate runs; medians reported")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    mr, pf = [], []
    for run in range(a.runs):
        root = pathlib.Path(tempfile.mkdtemp(prefix="mailroom-bench-outbound-"))
        os.chmod(root, 0o755)
        sink_port = free_port()
        sink = Sink(sink_port)
        try:
            (root / "mr").mkdir()
            mr.append(run_mailroom(root / "mr", a.n, a.size, sink_port, a.build))
            pf.append(Postfix(root, sink_port).run(a.n, a.size))
        finally:
            sink.stop()
            if not a.keep:
                shutil.rmtree(root, ignore_errors=True)
        print(f"run {run + 1}: Mailroom {a.n / mr[-1]:.0f} msg/s, Postfix {a.n / pf[-1]:.0f} msg/s",
              flush=True)
    t_mr, t_pf = sorted(mr)[len(mr) // 2], sorted(pf)[len(pf) // 2]
    print(f"outbound delivery of {a.n} messages of {a.size} bytes to a loopback smtp-sink"
          f" (median of {a.runs})")
    print(f"  Mailroom (mailroom-queued): {t_mr:7.2f} s  {a.n / t_mr:8.0f} msg/s")
    print(f"  Postfix 3.7 (qmgr + smtp):  {t_pf:7.2f} s  {a.n / t_pf:8.0f} msg/s")
    print(f"  ratio Mailroom/Postfix:     {t_pf / t_mr:7.2f}x")


if __name__ == "__main__":
    main()
