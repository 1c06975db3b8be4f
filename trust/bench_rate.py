#!/usr/bin/python3
"""trust/bench_rate.py - what the inbound trust checks cost mailroom-smtpd's
inbound rate (issue 10's figure: under 10% at 20 sessions, DNS answered
locally).

Each run: a fresh Mailroom (temp data dir, `mailroomctl init`, one user), a
loopback dnsmasq publishing the sender domain's SPF, DMARC (p=none) and DKIM
key records with a 300 s TTL (--local-ttl), then Postfix's smtp-source
sending N messages of about 10 KB from that domain over 20 sessions (new
connection per message, or -d persistent); msg/s = N / wall time until the
last 250 (after the group commit's fsync).

Modes, alternated run by run so the shared machine's drift hits all alike:
  base      --base-build's smtpd: a build whose MX sessions skip the checks
            (the comparison the figure asks for; see trust/README.md for how
            it is made: smtp_server.c's trust_applies() returning false)
  off       this build, trust.spf/dkim/dmarc = no (what an admin can turn off)
  spf       this build, SPF only (trust.dkim = trust.dmarc = no: DMARC needs
            the DKIM results, so DKIM runs whenever DMARC is on)
  on        this build, default settings (SPF, DKIM, DMARC, trace rows)
Messages: "plain" (From the sender domain, unsigned) or "signed" (the same
signed rsa-2048 by python3-dkim, relaxed/relaxed).

Prints each run's msg/s and smtpd's CPU time per message (user + system,
all threads, from /proc: steadier than the rate on a shared machine) with
the 1-minute load average, then medians and each mode's cost against base. Not a test: nothing asserts.
--detail adds, per run, where the time went: the event loop thread's CPU
per message and how busy it was, the busiest other thread, smtp-source's
CPU, how busy the machine's CPUs were (under 100%: the rate is bound by
waiting, not by CPU), and smtpd's latency counters (end of DATA to the
writer, to the commit).

  trust/bench_rate.py --base-build /tmp/base/build [--runs 5] [--msgs 10000]
                      [--persistent] [--message plain|signed] [--modes base,on]
"""
import argparse
import base64
import os
import pathlib
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
SENDER_DOMAIN = "sender.test"


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
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
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def cpu_seconds(pid):
    """user + system CPU of pid so far, all its threads."""
    f = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid):
    """{tid: user + system CPU} of each of pid's threads."""
    out = {}
    for t in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            f = (t / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(t.name)] = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    return out


def machine_busy():
    """(busy, total) jiffies of all CPUs so far, from /proc/stat."""
    f = [int(x) for x in pathlib.Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = f[3] + f[4]
    return sum(f) - idle, sum(f)


def make_key(root):
    key = root / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return key.read_bytes(), base64.b64encode(der).decode()


def make_message(root, kind, key, lines=140):
    """A message file for smtp-source -F (LF line ends: it sends CRLF): ~10 KB
    with the default 140 body lines, ~400 octets with 2."""
    body = "".join(f"Line {i:04d} of the quarterly figures, nothing to see here, "
                   "just text.\r\n" for i in range(lines))
    msg = (f"From: Bench <bench@{SENDER_DOMAIN}>\r\nTo: alice@example.test\r\n"
           "Subject: figures\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
           f"Message-ID: <bench@{SENDER_DOMAIN}>\r\n\r\n" + body).encode()
    if kind == "signed":
        import dkim
        msg = dkim.sign(msg, b"sel", SENDER_DOMAIN.encode(), key,
                        canonicalize=(b"relaxed", b"relaxed"),
                        include_headers=[b"from", b"to", b"subject", b"date",
                                         b"message-id"]) + msg
    p = root / f"{kind}.eml"
    p.write_bytes(msg.replace(b"\r\n", b"\n"))
    return p


class Run:
    """One fresh Mailroom + dnsmasq."""

    def __init__(self, root, build, settings, pub, wrap=()):
        self.dir = pathlib.Path(tempfile.mkdtemp(dir=root))
        self.port = free_port()
        dkim_txt = "v=DKIM1; k=rsa; p=" + pub
        chunks = ",".join(dkim_txt[i:i + 200] for i in range(0, len(dkim_txt), 200))
        # another job may take the port between the probe and the bind:
        # then try a new one
        for _ in range(10):
            dns_port = free_port(socket.SOCK_DGRAM)
            self.dnsmasq = subprocess.Popen(
                ["dnsmasq", "-k", "-C", "/dev/null", "-p", str(dns_port),
                 "--listen-address=127.0.0.1", "--bind-interfaces", "-R", "-h",
                 "--pid-file", "--user=root", "--local-ttl=300", "--address=/#/",
                 f"--txt-record={SENDER_DOMAIN},v=spf1 ip4:127.0.0.0/8 -all",
                 f"--txt-record=_dmarc.{SENDER_DOMAIN},v=DMARC1; p=none",
                 f"--txt-record=sel._domainkey.{SENDER_DOMAIN},{chunks}"],
                stdout=subprocess.DEVNULL, stderr=open(self.dir / "dnsmasq.log", "ab"))
            time.sleep(0.3)
            if self.dnsmasq.poll() is None:
                break
        else:
            raise SystemExit("dnsmasq does not start: " + (self.dir / "dnsmasq.log").read_text())
        cfg = self.dir / "mailroom.conf"
        cfg.write_text(f"""[server]
hostname = mail.example.test
data_dir = {self.dir}/data
log_level = info
[smtp]
listen = 127.0.0.1:{self.port}
submission_listen =
smtps_listen =
greeting_delay = 0
dns_servers = 127.0.0.1:{dns_port}
[pop3]
listen =
pop3s_listen =
[admin]
listen =
""")
        ctl = [str(build / "mailroomctl"), "-c", str(cfg)]
        subprocess.run(ctl + ["init"], check=True, capture_output=True)
        subprocess.run(ctl + ["domain", "add", "example.test"], check=True, capture_output=True)
        subprocess.run(ctl + ["user", "add", "alice@example.test"], input=b"bench-pw-1\n",
                       check=True, capture_output=True)
        with sqlite3.connect(self.dir / "data" / "mailroom.db") as c:
            for k, v in settings.items():
                c.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
                          ("trust." + k, v))
        self.log = open(self.dir / "smtpd.log", "ab")
        self.proc = subprocess.Popen([*wrap, str(build / "mailroom-smtpd"), "-c", str(cfg)],
                                     stdout=self.log, stderr=self.log)
        wait_port(self.port, timeout=120 if wrap else 20)

    def source(self, msgs, msgfile, persistent):
        args = ["smtp-source", "-s", "20", "-m", str(msgs), "-F", str(msgfile),
                "-f", f"bench@{SENDER_DOMAIN}", "-t", "alice@example.test",
                "-M", f"mx.{SENDER_DOMAIN}"]
        if persistent:
            args.append("-d")
        c0 = cpu_seconds(self.proc.pid)
        th0 = thread_cpu_seconds(self.proc.pid)
        m0 = machine_busy()
        ch0 = os.times()
        t0 = time.monotonic()
        r = subprocess.run(args + [f"127.0.0.1:{self.port}"], capture_output=True, text=True)
        dt = time.monotonic() - t0
        m1 = machine_busy()
        ch1 = os.times()
        th1 = thread_cpu_seconds(self.proc.pid)
        time.sleep(1.2)  # the trace writer's last flush counts too
        self.cpu_us = (cpu_seconds(self.proc.pid) - c0) / msgs * 1e6
        # where the time went while smtp-source ran: the main (event loop)
        # thread, the busiest other thread, the client, and how busy the
        # machine's CPUs were (100%: CPU-bound; less: bound by one thread)
        loop = th1.get(self.proc.pid, 0) - th0.get(self.proc.pid, 0)
        others = sorted((v - th0.get(k, 0) for k, v in th1.items() if k != self.proc.pid),
                        reverse=True)
        client = (ch1.children_user + ch1.children_system
                  - ch0.children_user - ch0.children_system)
        self.detail = (f"loop {loop / msgs * 1e6:4.0f} us/msg ({100 * loop / dt:3.0f}% of a core), "
                       f"top other thread {(others[0] if others else 0) / msgs * 1e6:3.0f}, "
                       f"client {client / msgs * 1e6:4.0f}, machine busy "
                       f"{100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]):3.0f}%")
        if r.returncode != 0:
            print(f"  smtp-source failed: {r.stdout}{r.stderr}", file=sys.stderr)
            return None
        return msgs / dt

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)
        if self.dnsmasq.poll() is None:
            self.dnsmasq.terminate()
            self.dnsmasq.wait(10)
        else:
            print(f"  warning: dnsmasq exited during the run ({self.dnsmasq.returncode}): "
                  + (self.dir / "dnsmasq.log").read_text()[-300:], file=sys.stderr)
        self.log.close()
        return (self.dir / "smtpd.log").read_text(errors="replace")


def check_log(mode, log):
    """The run did what its mode says (a bench of a broken setup is noise)."""
    delivered = log.count("event=delivered")
    spf_pass = log.count("spf=pass")
    if mode not in ("base", "off") and spf_pass < delivered * 0.9:
        import collections
        seen = collections.Counter(w for line in log.splitlines() if "event=delivered" in line
                                   for w in line.split() if w.startswith(("spf=", "dmarc=")))
        print(f"  warning: {mode}: only {spf_pass} of {delivered} with spf=pass: {dict(seen)}",
              file=sys.stderr)
    if mode == "base" and "dkim_pass=" in log:
        print("  warning: base build still runs the checks", file=sys.stderr)
    return delivered


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--base-build", help="smtpd build whose MX sessions skip the checks")
    ap.add_argument("--runs", type=int, default=5)
    # 2,000 messages took under a second per run at 20 persistent sessions:
    # sets of such runs moved by ~5 points; 10,000 are steadier
    ap.add_argument("--msgs", type=int, default=10000)
    ap.add_argument("--lines", type=int, default=140,
                    help="body lines (140: ~10 KB; 2: a ~400-octet message)")
    ap.add_argument("--persistent", action="store_true")
    ap.add_argument("--message", choices=("plain", "signed"), default="plain")
    ap.add_argument("--modes", default="base,off,on")
    ap.add_argument("--detail", action="store_true",
                    help="per run: the loop thread's share, the client's CPU, machine busy")
    ap.add_argument("--other", action="append", default=[], metavar="NAME=BUILD",
                    help="one more mode: checks on, this build (compare two builds)")
    a = ap.parse_args()
    modes = a.modes.split(",")
    builds = {"base": pathlib.Path(a.base_build) if a.base_build else None,
              "off": pathlib.Path(a.build), "spf": pathlib.Path(a.build),
              "on": pathlib.Path(a.build)}
    if "base" in modes and builds["base"] is None:
        raise SystemExit("--base-build is needed for mode base")
    settings = {"base": {}, "off": {"spf": "no", "dkim": "no", "dmarc": "no"},
                "spf": {"dkim": "no", "dmarc": "no"}, "on": {}}
    for o in a.other:
        name, build = o.split("=", 1)
        builds[name], settings[name] = pathlib.Path(build), {}
        modes.append(name)
    root = pathlib.Path(tempfile.mkdtemp(prefix="trust-bench-"))
    try:
        key, pub = make_key(root)
        msgfile = make_message(root, a.message, key, a.lines)
        rates = {m: [] for m in modes}
        cpus = {m: [] for m in modes}
        loads = []
        for i in range(a.runs):
            order = modes if i % 2 == 0 else modes[::-1]
            for mode in order:
                r = Run(root, builds[mode], settings[mode], pub)
                load0 = os.getloadavg()[0]
                try:
                    rate = r.source(a.msgs, msgfile, a.persistent)
                finally:
                    log = r.close()
                load1 = os.getloadavg()[0]
                n = check_log(mode, log)
                loads.append((load0 + load1) / 2)
                print(f"run {i + 1} {mode:5s} {rate or 0:8.0f} msg/s  "
                      f"smtpd CPU {r.cpu_us:6.0f} us/msg  delivered={n}  "
                      f"load {load0:.1f}->{load1:.1f}", flush=True)
                if a.detail:
                    # smtpd's own latency counters (its stop line): end of
                    # DATA -> handed to the writer, and -> committed
                    lat = " ".join(w for line in log.splitlines() if "event=stopped" in line
                                   for w in line.split()
                                   if w.startswith(("verdict_ms_avg=", "commit_wait_ms_avg=",
                                                    "commits=")))
                    print(f"      {r.detail}\n      {lat}", flush=True)
                if rate:
                    rates[mode].append(rate)
                    cpus[mode].append(r.cpu_us)
                shutil.rmtree(r.dir, ignore_errors=True)
        print(f"\n{a.msgs} x {msgfile.stat().st_size} octets {a.message}, 20 "
              f"{'persistent ' if a.persistent else ''}sessions, {a.runs} runs; "
              f"load average during runs: median {statistics.median(loads):.1f}, "
              f"{min(loads):.1f}-{max(loads):.1f}")
        med = {m: statistics.median(v) for m, v in rates.items() if v}
        cmed = {m: statistics.median(v) for m, v in cpus.items() if v}
        for m in modes:
            if m not in med:
                continue
            extra = ""
            if "base" in med and m != "base":
                extra = (f"  rate {100 * (med['base'] - med[m]) / med['base']:+.1f}%, "
                         f"CPU {100 * (cmed[m] - cmed['base']) / cmed['base']:+.1f}% vs base")
            print(f"  {m:5s} median {med[m]:7.0f} msg/s, {cmed[m]:5.0f} us CPU/msg  "
                  f"(runs: {', '.join(f'{x:.0f}' for x in rates[m])}){extra}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
