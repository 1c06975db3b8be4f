#!/usr/bin/python3
"""Benchmark mailroom-webadmin with wrk (issue 5, item 9).

    /usr/bin/python3 bench/webadmin.py [BUILD_DIR] [--accounts N] [--seconds S]

Starts a throwaway Mailroom (temp dir, free loopback ports) with N accounts,
logs in as an admin, then runs `wrk -t2 -c50 --latency` against the dashboard
(with the session cookie) and against GET /api/v1/accounts (with a token).
Prints requests/s, p50/p99 latency and the daemon's resident memory at rest
and after the load, then restarts the daemon and loads the dashboard again
with the same cookie (sessions are kept in the store). The targets from the issue: dashboard p99 < 20 ms at 50
connections, RSS < 20 MB at rest."""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import conftest  # noqa: E402
from test_web_client import Web  # noqa: E402


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def cpu_seconds(pid):
    """User + system CPU the process has used so far: a per-request cost that
    a shared, busy machine disturbs far less than latency."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url, header, seconds):
    out = subprocess.run(["wrk", "-t2", "-c50", f"-d{seconds}s", "--latency", "-H", header, url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (rps, lat.get("50"), lat.get("99"), int(non2xx.group(1)) if non2xx else 0, out,
            total)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=str(REPO / "build"))
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    conftest.BUILD = pathlib.Path(args.build)

    with tempfile.TemporaryDirectory(prefix="mailroom-bench-") as tmp:
        m = conftest.Mailroom(pathlib.Path(tmp))
        m.extra = {"server": {"log_level": "info"}}
        m.init()
        m.add_user("admin@example.test", "bench-admin-pw", role="admin")
        for i in range(args.accounts):
            m.ctl("user", "add", f"user{i}@example.test", "--quota", "100M",
                  input="bench-user-pw\n")
        token = m.ctl("token", "add", "bench").stdout.strip()
        try:
            m.start("webadmin")
            pid = m.pid("webadmin")
            w = Web(m.ports["admin"])
            assert w.login("admin@example.test", "bench-admin-pw").status == 303
            time.sleep(1)
            rest = rss_kb(pid)
            base = f"https://127.0.0.1:{m.ports['admin']}"
            c = wrk(base + "/style.css", "Accept: text/css", args.seconds)
            cpu0 = cpu_seconds(pid)
            d = wrk(base + "/", f"Cookie: mr_sid={w.cookies['mr_sid']}", args.seconds)
            d_cpu_us = (cpu_seconds(pid) - cpu0) * 1e6 / max(d[5], 1)
            a = wrk(base + "/api/v1/accounts", f"Authorization: Bearer {token}", args.seconds)
            after = rss_kb(pid)
            # the same cookie after a restart: the session comes back from the
            # store (web_sessions) on the first request, then from the cache
            m.stop("webadmin")
            m.start("webadmin")
            kept = w.get("/").status == 200
            rd = wrk(base + "/", f"Cookie: mr_sid={w.cookies['mr_sid']}", args.seconds) \
                if kept else None
        finally:
            m.close()
    print(f"accounts: {args.accounts}, wrk -t2 -c50 -d{args.seconds}s")
    print(f"/style.css (floor): {c[0]:6.0f} req/s  p50 {c[1]}  p99 {c[2]}  non-2xx {c[3]}")
    print(f"dashboard        : {d[0]:8.0f} req/s  p50 {d[1]}  p99 {d[2]}  non-2xx {d[3]}  "
          f"CPU {d_cpu_us:.0f} us/request (TLS included)")
    print(f"GET /api/v1/accounts: {a[0]:5.0f} req/s  p50 {a[1]}  p99 {a[2]}  non-2xx {a[3]}")
    print(f"RSS at rest {rest / 1024:.1f} MB, after load {after / 1024:.1f} MB")
    if rd:
        print(f"after a restart  : {rd[0]:8.0f} req/s  p50 {rd[1]}  p99 {rd[2]}  "
              f"non-2xx {rd[3]} (same cookie, session kept)")
    else:
        print("after a restart  : session lost (the cookie goes to the login page)")


if __name__ == "__main__":
    main()
