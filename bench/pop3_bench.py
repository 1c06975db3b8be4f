#!/usr/bin/python3
"""pop3_bench.py - mailroom-pop3d beside Dovecot's POP3, same machine, same
client, same messages, same run; prints absolute figures and ratios.

    /usr/bin/python3 bench/pop3_bench.py [--quick] [--idle N]

What it measures (issue 4):
  - RETR throughput: 2,000 messages of 10 KB and 200 of 1 MB, one session,
    RETR pipelined 16 deep (and 10 KB once more one at a time, as Outlook
    and Thunderbird fetch), read by a small C client (bench/pop3_retr.c) so
    the client is not the bottleneck; and the server's CPU time per
    message (user + system, whole process tree, login excluded);
  - LIST + UIDL on a 10,000-message mailbox (after login);
  - logins/s: 4 client processes, connect + USER + PASS + QUIT in a loop,
    each on its own account, same yescrypt hash cost on both servers;
  - memory per idle logged-in session at N (1,000) connections (empty
    mailboxes, measured first while both servers are fresh): PSS summed
    over every process of the server (Dovecot: master, auth, login and one
    pop3 process per session), after minus before, divided by N.

Dovecot (Debian dovecot-pop3d) is configured here from scratch: its own
base_dir and state_dir under a temp dir, passwd-file users with the same
{CRYPT} yescrypt hash, mail_location maildir:~/Maildir holding the very
bytes Mailroom stores, a loopback port. Nothing is installed as a service.
"""
import argparse
import multiprocessing
import os
import pathlib
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
BUILD = pathlib.Path(os.environ.get("MAILROOM_BUILD", REPO / "build"))
PASSWORD = "bench password 1"
DOMAIN = "bench.test"
NOBODY = 65534


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def message(i, size, tag):
    head = (f"From: sender{i}@remote.test\r\nTo: {tag}@{DOMAIN}\r\n"
            f"Subject: bench {tag} {i}\r\nMessage-ID: <{tag}.{i}@remote.test>\r\n\r\n").encode()
    line = f"bench line of message {i} for {tag} .......................\r\n".encode()
    body = bytearray(head)
    while len(body) + len(line) <= size - 2:
        body += line
    body += b"x" * (size - 2 - len(body)) + b"\r\n"
    return bytes(body)


# ---- a raw POP3 client ---------------------------------------------------------

class Client:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.buf = bytearray()
        self.line()

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                l = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return l
            d = self.s.recv(1 << 16)
            if not d:
                raise EOFError
            self.buf += d

    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        return self.line()

    def multi_raw(self):
        """Bytes of a multi-line answer up to its terminator (not parsed)."""
        start = 0
        while True:
            i = self.buf.find(b"\r\n.\r\n", max(0, start - 4))
            if i >= 0:
                n = i + 5
                del self.buf[:n]
                return n
            start = len(self.buf)
            d = self.s.recv(1 << 18)
            if not d:
                raise EOFError
            self.buf += d

    def login(self, user):
        r = self.cmd(f"USER {user}")
        assert r.startswith(b"+OK"), r
        r = self.cmd(f"PASS {PASSWORD}")
        assert r.startswith(b"+OK"), (user, r)

    def close(self):
        try:
            self.cmd("QUIT")
        except (OSError, EOFError):
            pass
        self.s.close()


CLIENT_CPUS = None  # set by --pin: the client's CPUs during the reps


def pin_tree(pid, cpus):
    """Every thread of pid's process tree onto cpus (children forked
    later, like Dovecot's per-session pop3 processes, inherit it)."""
    for p in tree(pid):
        try:
            for t in pathlib.Path(f"/proc/{p}/task").iterdir():
                os.sched_setaffinity(int(t.name), cpus)
        except OSError:
            continue


def retr_c(port, user, n, depth=16, pid=None):
    """retr_all with the C reader (bench/pop3_retr.c): same answers, but the
    client keeps up with the server. Seconds, octets, server CPU seconds
    (nanosecond run-time clocks of every thread of the server's process
    tree, read before and after the transfer while the session lives)."""
    pin = (lambda: os.sched_setaffinity(0, CLIENT_CPUS)) if CLIENT_CPUS else None
    p = subprocess.Popen([str(BUILD / "pop3_retr"), str(port), user, PASSWORD, str(n),
                          str(depth)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         preexec_fn=pin)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.2)  # Dovecot: the login process hands over and exits
    cpu0 = tree_cpu_ns(pid) if pid else 0.0
    p.stdin.write("go\n")
    p.stdin.flush()
    out = p.stdout.readline().split()
    cpu1 = tree_cpu_ns(pid) if pid else 0.0
    p.stdin.write("quit\n")
    p.stdin.flush()
    assert p.wait(60) == 0 and len(out) == 2, out
    time.sleep(0.3)  # Dovecot: the master reaps the session's process
    return float(out[0]), int(out[1]), cpu1 - cpu0


def retr_all(port, user, n, depth=16, pid=None):
    """Seconds, octets, and server CPU seconds from after login to the end."""
    c = Client(port)
    c.login(user)
    time.sleep(0.2)  # Dovecot: the login process hands over and exits
    cpu0 = tree_cpu(pid) if pid else 0.0
    t = time.perf_counter()
    octets = 0
    sent = 0
    done = 0
    while done < n:
        while sent < n and sent - done < depth:
            sent += 1
            c.s.sendall(f"RETR {sent}\r\n".encode())
        status = c.line()
        assert status.startswith(b"+OK"), status
        octets += c.multi_raw()
        done += 1
    dt = time.perf_counter() - t
    c.close()
    time.sleep(0.3)  # Dovecot: the master reaps the session's process
    return dt, octets, (tree_cpu(pid) - cpu0) if pid else 0.0


def list_uidl(port, user):
    c = Client(port)
    c.login(user)
    t = time.perf_counter()
    c.s.sendall(b"LIST\r\nUIDL\r\n")
    assert c.line().startswith(b"+OK")
    c.multi_raw()
    assert c.line().startswith(b"+OK")
    c.multi_raw()
    dt = time.perf_counter() - t
    c.close()
    return dt


def login_worker(args):
    port, user, seconds = args
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        c = Client(port)
        c.login(user)
        c.close()
        n += 1
    return n


def logins_per_second(port, users, seconds):
    with multiprocessing.Pool(len(users)) as pool:
        counts = pool.map(login_worker, [(port, u, seconds) for u in users])
    return sum(counts) / seconds


# ---- process memory ------------------------------------------------------------

def tree(pid):
    """pid and all its descendants."""
    out = [pid]
    kids = {}
    for p in pathlib.Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(p.name))
    i = 0
    while i < len(out):
        out += kids.get(out[i], [])
        i += 1
    return out


def tree_cpu(pid):
    """CPU seconds of pid's process tree, reaped children included."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pid):
        try:
            f = pathlib.Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in f[11:15])
    return total / tck


def tree_cpu_ns(pid):
    """CPU seconds, to the nanosecond, of the live threads of pid's tree
    (/proc/TID/schedstat; the tick-based clocks of /proc/PID/stat are 10 ms
    steps, as much as a whole 10 KB run costs)."""
    total = 0
    for p in tree(pid):
        try:
            for t in pathlib.Path(f"/proc/{p}/task").iterdir():
                total += int((t / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            continue
    return total / 1e9


def pss_kb(pids):
    total = 0
    for pid in pids:
        try:
            for l in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if l.startswith("Pss:"):
                    total += int(l.split()[1])
        except OSError:
            pass
    return total


def idle_memory(port, pid, users):
    before = pss_kb(tree(pid))
    clients = []
    for u in users:
        c = Client(port)
        c.login(u)
        clients.append(c)
    time.sleep(1.0)
    procs = tree(pid)
    after = pss_kb(procs)
    for c in clients:
        c.close()
    return (after - before) / len(users), len(procs)


# ---- the two servers -----------------------------------------------------------

def build_reader():
    subprocess.run(["cc", "-std=c11", "-O2", "-o", str(BUILD / "pop3_retr"),
                    str(REPO / "bench" / "pop3_retr.c")], check=True)


def deliver_tool():
    src = REPO / "tests" / "tools" / "mr-deliver.c"
    out = BUILD / "mr-deliver"
    flags = subprocess.run(["pkg-config", "--libs", "sqlite3", "libcrypt", "openssl"],
                           capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cc", "-std=c11", "-O2", "-o", str(out), str(src),
                    str(BUILD / "libstore.a"), str(BUILD / "libcommon.a"), *flags], check=True)
    return str(out)


def setup_mailroom(tmp, sets, n_idle):
    port = free_port()
    data = tmp / "mailroom"
    cfg = tmp / "mailroom.conf"
    cfg.write_text(f"""[server]
hostname = mail.{DOMAIN}
data_dir = {data}
log_level = warn
[smtp]
listen =
submission_listen =
smtps_listen =
[pop3]
listen = 127.0.0.1:{port}
pop3s_listen =
[admin]
listen =
""")
    ctl = [str(BUILD / "mailroomctl"), "-c", str(cfg)]
    subprocess.run(ctl + ["init"], check=True, capture_output=True)
    subprocess.run(ctl + ["domain", "add", DOMAIN], check=True, capture_output=True)
    tool = deliver_tool()
    db = str(data / "mailroom.db")
    for name, files in sets.items():
        subprocess.run(ctl + ["user", "add", f"{name}@{DOMAIN}"], input=PASSWORD + "\n",
                       text=True, check=True, capture_output=True)
        for i in range(0, len(files), 1000):
            subprocess.run([tool, db, f"{name}@{DOMAIN}", *map(str, files[i:i + 1000])],
                           check=True)
    subprocess.run([tool, db, "--add-users", "idle", str(n_idle), DOMAIN, PASSWORD], check=True)
    log = open(tmp / "mailroom-pop3d.log", "ab")
    proc = subprocess.Popen([str(BUILD / "mailroom-pop3d"), "-c", str(cfg)], stdout=log,
                            stderr=subprocess.STDOUT)
    wait_port(port)
    return proc, port


def setup_dovecot(tmp, sets, n_idle):
    port = free_port()
    base = tmp / "dovecot"
    home = base / "home"
    for d in ("run", "state"):
        (base / d).mkdir(parents=True, exist_ok=True)
    hashed = subprocess.run(["mkpasswd", "-m", "yescrypt", PASSWORD], capture_output=True,
                            text=True, check=True).stdout.strip()
    users = list(sets) + [f"idle{i:04d}" for i in range(1, n_idle + 1)]
    with open(base / "passwd", "w") as f:
        for u in users:
            f.write(f"{u}@{DOMAIN}:{{CRYPT}}{hashed}:{NOBODY}:{NOBODY}::{home}/{u}::\n")
    for u in users:
        for d in ("cur", "new", "tmp"):
            (home / u / "Maildir" / d).mkdir(parents=True, exist_ok=True)
    for name, files in sets.items():
        cur = home / name / "Maildir" / "cur"
        for i, src in enumerate(files):
            dst = cur / f"{1700000000 + i}.M{i}P1.bench,S={src.stat().st_size}:2,S"
            shutil.copyfile(src, dst)
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(home)], check=True)
    conf = base / "dovecot.conf"
    conf.write_text(f"""base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
first_valid_uid = {NOBODY}
default_internal_user = dovecot
default_login_user = dovenull
default_process_limit = {n_idle + 200}
default_client_limit = {2 * n_idle + 400}
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=CRYPT {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = {base}/passwd
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service anvil {{
  client_limit = {3 * n_idle + 600}
}}
""")
    log = open(tmp / "dovecot-stdout.log", "ab")
    proc = subprocess.Popen(["dovecot", "-F", "-c", str(conf)], stdout=log,
                            stderr=subprocess.STDOUT)
    wait_port(port)
    return proc, port


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sets, shorter runs")
    ap.add_argument("--idle", type=int, default=1000, help="idle sessions for memory")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="let the kernel place client and servers during the reps")
    ap.add_argument("--nice", type=int, default=-10,
                    help="niceness for both servers and the client (default -10)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (Dovecot drops to its users)")
    # Both servers (and every process they fork) and the client inherit
    # this: on a machine shared with other jobs (fuzzers, compilers), it
    # keeps their bursts from landing on one server's turn and not the
    # other's. The same for both; 0 measures as an ordinary process.
    os.nice(args.nice)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    scale = 10 if args.quick else 1
    n10k, n1m, nlist = 2000 // scale, 200 // scale, 10000 // scale
    n_idle = args.idle // scale if args.quick else args.idle
    # one libstore for the CLI, the daemon and the delivery tool
    subprocess.run(["make", "-s", "-C", str(REPO), f"BUILD={BUILD}", str(BUILD / "mailroomctl"),
                    str(BUILD / "mailroom-pop3d")], check=True)
    build_reader()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="pop3bench-"))
    os.chmod(tmp, 0o755)
    print(f"# pop3 bench in {tmp}", flush=True)
    msgdir = tmp / "msgs"
    sets = {}
    for name, count, size in (("r10k", n10k, 10 * 1024), ("r1m", n1m, 1024 * 1024),
                              ("list", nlist, 600)):
        d = msgdir / name
        d.mkdir(parents=True)
        files = []
        for i in range(1, count + 1):
            p = d / f"{i:05d}.eml"
            p.write_bytes(message(i, size, name))
            files.append(p)
        sets[name] = files
    t = time.monotonic()
    mr, mr_port = setup_mailroom(tmp, sets, n_idle)
    dc, dc_port = setup_dovecot(tmp, sets, n_idle)
    print(f"# setup {time.monotonic() - t:.1f}s; mailroom-pop3d :{mr_port}, dovecot :{dc_port}",
          flush=True)
    servers = {"mailroom": (mr_port, mr.pid), "dovecot": (dc_port, dc.pid)}
    res = {k: {} for k in servers}
    try:
        # First, while both processes are fresh: a heap that earlier tests
        # grew would hide the sessions' memory in already-mapped pages.
        for name, (port, pid) in servers.items():
            users = [f"idle{i:04d}@{DOMAIN}" for i in range(1, n_idle + 1)]
            res[name]["idle"] = idle_memory(port, pid, users)
        # The reps: the client on the first CPU, each server's whole tree
        # on the others, as with a client on another machine. Unpinned,
        # the kernel sometimes runs client and server on one core, where
        # a one-at-a-time RETR ping-pongs without a cross-CPU wakeup
        # (2-3x faster): a lottery that depended on the placement left by
        # the previous measure, and favoured Dovecot's fresh per-session
        # processes over Mailroom's one long-lived process.
        all_cpus = os.sched_getaffinity(0)
        global CLIENT_CPUS
        if args.pin and len(all_cpus) >= 2:
            first = min(all_cpus)
            CLIENT_CPUS = {first}
            for _, pid in servers.values():
                pin_tree(pid, all_cpus - {first})
        loads = [os.getloadavg()[0]]
        for rep in range(args.reps):
            # Alternate who goes first: a neighbour's burst then hits both.
            order = list(servers.items())
            if rep % 2:
                order.reverse()
            for name, (port, _) in order:
                for tag, user, n, depth in (("retr10k", "r10k", n10k, 16),
                                            ("retr10k1", "r10k", n10k, 1),
                                            ("retr1m", "r1m", n1m, 16)):
                    dt, octets, cpu = retr_c(port, f"{user}@{DOMAIN}", n, depth,
                                             pid=servers[name][1])
                    res[name].setdefault(tag, []).append((n / dt, octets / dt / 1e6,
                                                          cpu / n * 1e6))
                dt = min(list_uidl(port, f"list@{DOMAIN}") for _ in range(5))
                res[name].setdefault("list", []).append(dt * 1000)
            loads.append(os.getloadavg()[0])
        CLIENT_CPUS = None
        for _, pid in servers.values():
            pin_tree(pid, all_cpus)
        seconds = 3 if args.quick else 6
        for name, (port, _) in servers.items():
            users = [f"idle{i:04d}@{DOMAIN}" for i in range(1, 5)]
            res[name]["logins"] = logins_per_second(port, users, seconds)
    finally:
        mr.send_signal(signal.SIGTERM)
        dc.send_signal(signal.SIGTERM)
        mr.wait(30)
        dc.wait(30)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    def med(name, tag, k):
        """Median of the reps (the machine is shared: one rep can be hit by
        a neighbour's burst either way; the median ignores a lone one)."""
        return statistics.median(v[k] for v in res[name][tag])

    M, D = "mailroom", "dovecot"
    rows = []
    for tag, label, n in (("retr10k", f"RETR {n10k} x 10 KB", n10k),
                          ("retr10k1", f"RETR {n10k} x 10 KB, not pipelined", n10k),
                          ("retr1m", f"RETR {n1m} x 1 MB", n1m)):
        m, d = med(M, tag, 1), med(D, tag, 1)
        rows.append((f"{label} (MB/s)", f"{m:.1f}", f"{d:.1f}", ratio(m, d)))
        m, d = med(M, tag, 0), med(D, tag, 0)
        rows.append((f"{label} (msgs/s)", f"{m:.0f}", f"{d:.0f}", ratio(m, d)))
        m, d = med(M, tag, 2), med(D, tag, 2)
        rows.append((f"{label} (server CPU us/msg, lower wins)", f"{m:.0f}",
                     f"{d:.0f}", ratio(d, m)))
    m, d = statistics.median(res[M]["list"]), statistics.median(res[D]["list"])
    rows.append((f"LIST+UIDL, {nlist} msgs (ms, lower wins)", f"{m:.1f}", f"{d:.1f}",
                 ratio(d, m)))
    m, d = res[M]["logins"], res[D]["logins"]
    rows.append(("logins/s (4 clients, yescrypt)", f"{m:.0f}", f"{d:.0f}", ratio(m, d)))
    (m, mp), (d, dp) = res[M]["idle"], res[D]["idle"]
    rows.append((f"PSS per idle session at {n_idle} (kB, lower wins)", f"{m:.0f}",
                 f"{d:.0f}", ratio(d, m)))
    print()
    print(f"| measure | mailroom-pop3d | Dovecot | advantage |")
    print(f"|---|---:|---:|---:|")
    for label, m, d, r in rows:
        print(f"| {label} | {m} | {d} | {r:.2f}x |")
    placement = ("client on one CPU, each server on the other" if args.pin
                 else "placed by the kernel")
    print(f"\n(medians of {args.reps} reps, servers alternating, {placement}; processes at {n_idle} "
          f"sessions: mailroom {mp}, dovecot {dp}; advantage = how many times better "
          f"mailroom is, >1 is better)")
    print(f"(1-minute load average during the reps: min {min(loads):.1f}, median "
          f"{statistics.median(loads):.1f}, max {max(loads):.1f}; 2 cores)")
    print("\nmsgs/s of every rep, in order (the spread says how noisy the machine was):")
    for tag in ("retr10k", "retr10k1", "retr1m"):
        for name in (M, D):
            print(f"  {tag:9} {name:8} " + " ".join(f"{v[0]:.0f}" for v in res[name][tag]))


if __name__ == "__main__":
    main()
