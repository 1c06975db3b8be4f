#!/usr/bin/python3
"""bench/rules_smtp.py - what 20 rules on the recipient's account cost the
real delivery path (issue 7: under 5%).

Starts a private Mailroom (temp data dir, loopback port, the given build),
then with Postfix's smtp-source sends 2000 messages of 10 KB over 20
sessions to alice@example.test, alternating runs with no rules and with 20
rules (every condition kind, none matching, the last one a vacation that
is outside its dates: every rule is evaluated for every message). Reports
messages/s for each run, the best of each, and the cost of the rules.

Needs an smtpd that runs the rules (see rules/smtpd-wiring.patch); with
one that does not, both columns measure the same thing.

    bench/rules_smtp.py [--build DIR] [--runs N] [--messages N]
"""
import argparse
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]

RULES = [
    ["--if", "from", "is", "boss@example.test", "--forward", "me@mobile.test"],
    ["--if", "subject", "contains", "invoice", "--tag", "[INV]"],
    ["--if", "subject", "matches", "*viagra*", "--discard"],
    ["--if", "header:X-Spam-Flag", "is", "yes", "--tag", "[SPAM]"],
    ["--if", "size", "over", "20M", "--reject", "too big"],
    ["--if", "to_cc", "is", "sales@example.test", "--forward", "crm@remote.test"],
    ["--if", "envelope_from", "matches", "*@spam.test", "--reject", "no"],
    ["--any", "--if", "from", "contains", "newsletter", "--if", "header:List-Id", "contains",
     "announce", "--tag", "[NEWS]"],
    ["--if", "subject", "is", "ping", "--discard"],
    ["--if", "header:X-Mailer", "matches", "Bulk*", "--tag", "[BULK]"],
    ["--if", "from", "matches", "*@competitor.test", "--forward", "legal@example.test"],
    ["--if", "subject", "contains", "urgent", "--if", "from", "matches", "*@example.test",
     "--tag", "[!]"],
    ["--if", "to_cc", "contains", "hr@", "--redirect", "hr-archive@remote.test"],
    ["--if", "envelope_to", "is", "old@example.test", "--redirect", "new@example.test"],
    ["--if", "header:Precedence", "is", "bulk", "--tag", "[BULK]"],
    ["--if", "subject", "matches", "RE: RE: RE: *", "--tag", "[THREAD]"],
    ["--if", "size", "under", "10", "--discard"],
    ["--if", "from", "contains", "no-reply", "--stop"],
    ["--if", "header:X-Priority", "is", "1", "--forward", "me@mobile.test"],
    ["--vacation", "away", "--start", "2001-01-01", "--end", "2001-01-02"],
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--messages", type=int, default=2000)
    a = ap.parse_args()
    build = pathlib.Path(a.build)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="mailroom-rules-bench-"))
    port = free_port()
    cfg = tmp / "mailroom.conf"
    cfg.write_text(f"[server]\nhostname = mail.example.test\ndata_dir = {tmp}/data\n"
                   "log_level = warn\n"
                   f"[smtp]\nlisten = 127.0.0.1:{port}\nsubmission_listen =\nsmtps_listen =\n"
                   "dns_servers = 127.0.0.1:9\ngreeting_delay = 0\n[pop3]\nlisten =\npop3s_listen =\n"
                   "[admin]\nlisten =\n")

    def ctl(*args, **kw):
        return subprocess.run([str(build / "mailroomctl"), "-c", str(cfg), *args],
                              check=True, capture_output=True, text=True, **kw)

    ctl("init")
    ctl("domain", "add", "example.test")
    ctl("user", "add", "alice@example.test", input="bench-password-1\n")
    log = open(tmp / "smtpd.log", "wb")
    smtpd = subprocess.Popen([str(build / "mailroom-smtpd"), "-c", str(cfg)], stdout=log,
                             stderr=subprocess.STDOUT)
    results = {"0 rules": [], "20 rules": []}
    try:
        wait_port(port)
        for run in range(a.runs):
            for label in ("0 rules", "20 rules"):
                # the rules change between runs; smtpd notices by the
                # store's rules generation
                if label == "20 rules":
                    for i, r in enumerate(RULES):
                        ctl("rule", "add", "alice@example.test", f"r{i}", *r)
                t0 = time.monotonic()
                subprocess.run(["smtp-source", "-s", "20", "-m", str(a.messages), "-l", "10240",
                                "-f", "sender@remote.test", "-t", "alice@example.test",
                                f"127.0.0.1:{port}"], check=True, capture_output=True)
                dt = time.monotonic() - t0
                results[label].append(a.messages / dt)
                print(f"run {run + 1} {label:9s} {a.messages / dt:8.0f} msg/s", flush=True)
                if label == "20 rules":
                    ctl("rule", "import", "alice@example.test", "-", input="")
    finally:
        smtpd.terminate()
        smtpd.wait(15)
    best0, best20 = max(results["0 rules"]), max(results["20 rules"])
    med0 = sorted(results["0 rules"])[len(results["0 rules"]) // 2]
    med20 = sorted(results["20 rules"])[len(results["20 rules"]) // 2]
    print(f"best:   {best0:.0f} msg/s without rules, {best20:.0f} msg/s with 20 rules: "
          f"{(1 - best20 / best0) * 100:+.1f}% cost")
    print(f"median: {med0:.0f} msg/s without rules, {med20:.0f} msg/s with 20 rules: "
          f"{(1 - med20 / med0) * 100:+.1f}% cost")
    subprocess.run(["rm", "-rf", str(tmp)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
