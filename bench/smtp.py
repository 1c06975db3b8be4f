#!/usr/bin/python3
"""bench/smtp.py - mailroom-smtpd beside Postfix on this machine, same client.

Starts a private Mailroom (temp data dir, loopback ports) and a private
Postfix instance (postfix -c TMPDIR, loopback port, virtual(8) delivery to
Maildir), then with Postfix's smtp-source against each:
  1. 2000 messages of 10 KB over 20 sessions (a new connection per message)
  2. the same over 20 persistent sessions (smtp-source -d)
  3. 200 messages of 1 MB over 20 sessions
and reports messages/s until the last 250 (both servers answer 250 only once
the message is on disk: Mailroom after the group commit's fsync, Postfix
after the queue file's fsync). Then it holds 1,000 and 10,000 idle
connections and reports memory per idle session (RSS and PSS summed over
the server's processes, minus the idle baseline).

Run as root (Postfix needs it): sudo bench/smtp.py [--build DIR] [--quick]
Prints one table with Mailroom/Postfix ratios. Not a test: nothing asserts.
"""
import argparse
import os
import pathlib
import pwd
import re
import resource
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.recv(100)
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def children(pid):
    """pid and all its descendants."""
    kids = {}
    for p in pathlib.Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [pid]
    while todo:
        x = todo.pop()
        out.append(x)
        todo += kids.get(x, [])
    return out


def memory_kb(pids):
    rss = pss = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailroom:
    name = "Mailroom"

    def __init__(self, root, build, uncached_dns=False):
        self.dir = root / "mailroom"
        self.dir.mkdir()
        self.build = build
        self.port = free_port()
        # smtpd's inbound checks (SPF, DMARC) ask DNS: a loopback dnsmasq
        # answers them, never the machine's resolver. The sending domain
        # publishes SPF and DMARC with a 300 s TTL, as real ones do, so
        # smtpd's DNS cache works as it would in production. With
        # uncached_dns every name is an NXDOMAIN without SOA (TTL 0): each
        # message then waits for two dnsmasq round trips (SPF, DMARC).
        records = [] if uncached_dns else [
            "--local-ttl=300",
            "--txt-record=remote.test,v=spf1 ip4:127.0.0.0/8 -all",
            "--txt-record=_dmarc.remote.test,v=DMARC1; p=none"]
        self.dns_port = free_udp_port()
        self.dnsmasq = subprocess.Popen(
            ["dnsmasq", "-k", "-C", "/dev/null", "-p", str(self.dns_port),
             "--listen-address=127.0.0.1", "--bind-interfaces", "-R", "-h",
             "--pid-file", "--user=root", *records, "--address=/#/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cfg = self.dir / "mailroom.conf"
        cfg.write_text(f"""[server]
hostname = mail.example.test
data_dir = {self.dir}/data
log_level = warn
[smtp]
listen = 127.0.0.1:{self.port}
submission_listen =
smtps_listen =
message_size_limit = 30000000
greeting_delay = 0
dns_servers = 127.0.0.1:{self.dns_port}
[pop3]
listen =
pop3s_listen =
[admin]
listen =
""")
        self.cfg = cfg
        ctl = [str(build / "mailroomctl"), "-c", str(cfg)]
        subprocess.run(ctl + ["init"], check=True, capture_output=True)
        subprocess.run(ctl + ["domain", "add", "example.test"], check=True, capture_output=True)
        subprocess.run(ctl + ["user", "add", "alice@example.test"], input=b"bench-password\n",
                       check=True, capture_output=True)
        self.proc = None

    def start(self):
        env = dict(os.environ)
        self.log = open(self.dir / "smtpd.log", "ab")
        self.proc = subprocess.Popen([str(self.build / "mailroom-smtpd"), "-c", str(self.cfg)],
                                     stdout=self.log, stderr=self.log, env=env)
        wait_port(self.port)

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)

    def close(self):
        self.stop()
        if self.dnsmasq.poll() is None:
            self.dnsmasq.terminate()
            self.dnsmasq.wait(10)


class Postfix:
    name = "Postfix"

    def __init__(self, root):
        self.dir = root / "postfix"
        self.dir.mkdir()
        os.chmod(root, 0o755)
        self.port = free_port()
        nobody = pwd.getpwnam("nobody")
        vmail = root / "postfix-vmail"
        vmail.mkdir()
        os.chown(vmail, nobody.pw_uid, nobody.pw_gid)
        (self.dir / "vmailbox").write_text("alice@example.test example.test/alice/\n")
        (self.dir / "main.cf").write_text(f"""compatibility_level = 3.6
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
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = example.test
virtual_mailbox_base = {vmail}
virtual_mailbox_maps = texthash:{self.dir}/vmailbox
virtual_uid_maps = static:{nobody.pw_uid}
virtual_gid_maps = static:{nobody.pw_gid}
virtual_minimum_uid = 1
message_size_limit = 30000000
maillog_file_prefixes = {self.dir}
maillog_file = {self.dir}/maillog
smtputf8_enable = no
""")
        (self.dir / "spool").mkdir()
        (self.dir / "data").mkdir()
        pf = pwd.getpwnam("postfix")
        os.chown(self.dir / "data", pf.pw_uid, pf.pw_gid)
        master = pathlib.Path("/etc/postfix/master.cf").read_text()
        out = []
        for line in master.splitlines():
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

    def postfix(self, *args):
        return subprocess.run(["postfix", "-c", str(self.dir), *args], capture_output=True,
                              text=True)

    def start(self):
        r = self.postfix("check")
        r = self.postfix("start")
        if r.returncode != 0:
            raise SystemExit("postfix did not start: " + r.stdout + r.stderr)
        wait_port(self.port)

    def pids(self):
        pidfile = self.dir / "spool" / "pid" / "master.pid"
        return children(int(pidfile.read_text().split()[0]))

    def stop(self):
        self.postfix("stop")
        time.sleep(1)
        self.postfix("abort")


def smtp_source(port, sessions, msgs, size, persistent=False):
    args = ["smtp-source", "-s", str(sessions), "-m", str(msgs), "-l", str(size),
            "-f", "bench@remote.test", "-t", "alice@example.test", "-M", "client.remote.test"]
    if persistent:
        args.append("-d")
    t0 = time.monotonic()
    r = subprocess.run(args + [f"127.0.0.1:{port}"], capture_output=True, text=True)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        print(f"  smtp-source failed on {port}: {r.stdout}{r.stderr}", file=sys.stderr)
        return None
    return msgs / dt


def idle_memory(server, n):
    """kB per idle session (RSS, PSS) and how many sessions were served."""
    base_rss, base_pss = memory_kb(server.pids())
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", server.port))
        except OSError:
            s.close()
            continue
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
    greeted = set()
    deadline = time.monotonic() + 30
    while len(greeted) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            try:
                if key.fileobj.recv(512):
                    greeted.add(key.fileobj)
            except OSError:
                pass
            sel.unregister(key.fileobj)
    time.sleep(2)
    rss, pss = memory_kb(server.pids())
    for s in socks:
        s.close()
    served = max(len(greeted), 1)
    return (rss - base_rss) / served, (pss - base_pss) / served, len(greeted), rss, pss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--quick", action="store_true", help="smaller runs")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--uncached-dns", action="store_true",
                    help="dnsmasq answers NXDOMAIN without TTL for every name (no DNS caching)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: Postfix needs it")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 12000:
        print(f"warning: RLIMIT_NOFILE {hard}: 10,000 idle sessions will not fit",
              file=sys.stderr)
    root = pathlib.Path(tempfile.mkdtemp(prefix="mailroom-bench-"))
    scale = 10 if a.quick else 1
    runs = [
        ("10 KB x 2000, 20 sessions", dict(sessions=20, msgs=2000 // scale, size=10240)),
        ("10 KB x 2000, 20 persistent", dict(sessions=20, msgs=2000 // scale, size=10240,
                                             persistent=True)),
        ("1 MB x 200, 20 sessions", dict(sessions=20, msgs=200 // scale, size=1024 * 1024)),
    ]
    servers = [Mailroom(root, pathlib.Path(a.build), a.uncached_dns), Postfix(root)]
    results = {}
    try:
        for srv in servers:
            srv.start()
            for label, kw in runs:
                smtp_source(srv.port, 2, 20, 1000)  # warm up
                results[(srv.name, label)] = smtp_source(srv.port, **kw)
                print(f"{srv.name:8} {label:30} {results[(srv.name, label)] or 0:9.0f} msg/s",
                      file=sys.stderr)
            for n in (1000, 10000):
                # a fresh server each time: Postfix keeps idle smtpd
                # processes around for max_idle, which would skew the baseline
                srv.stop()
                srv.start()
                time.sleep(1)
                results[(srv.name, f"idle {n}")] = idle_memory(srv, n)
            srv.stop()
    finally:
        for srv in servers:
            try:
                srv.close() if hasattr(srv, "close") else srv.stop()
            except Exception:
                pass
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"{'durable acceptance (msg/s)':34} {'Mailroom':>10} {'Postfix':>10} {'ratio':>7}")
    for label, _ in runs:
        m, p = results[("Mailroom", label)], results[("Postfix", label)]
        ratio = f"{m / p:6.1f}x" if m and p else "   n/a"
        print(f"{label:34} {m or 0:10.0f} {p or 0:10.0f} {ratio}")
    print()
    print(f"{'idle sessions':34} {'Mailroom':>10} {'Postfix':>10} {'ratio':>7}")
    for n in (1000, 10000):
        m, p = results[("Mailroom", f"idle {n}")], results[("Postfix", f"idle {n}")]
        print(f"{f'{n} connections: sessions served':34} {m[2]:10d} {p[2]:10d}")
        print(f"{'  RSS per served session (kB)':34} {m[0]:10.1f} {p[0]:10.1f} {p[0] / m[0] if m[0] > 0 else 0:6.1f}x")
        print(f"{'  PSS per served session (kB)':34} {m[1]:10.1f} {p[1]:10.1f} {p[1] / m[1] if m[1] > 0 else 0:6.1f}x")
        print(f"{'  total RSS of the server (MB)':34} {m[3] / 1024:10.1f} {p[3] / 1024:10.1f}")
    print("\nratio: Postfix/Mailroom for memory, Mailroom/Postfix for rates (higher is better "
          "for Mailroom either way)")


if __name__ == "__main__":
    main()
