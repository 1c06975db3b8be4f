"""Helpers for the trust tests (no tests of its own but one smoke test):
a loopback dnsmasq serving a zone given as Python data, and the
build/trust-check driver (tests/tools/trust_check.c) that runs libtrust's
real c-ares queries against it and prints one JSON line per command.

Zone data: {name: [(type, value), ...]} with types TXT (a str, or a list
of strings making one record), A (v4 or v6 text), MX ((pref, host)),
PTR (host; name is the reverse name), TIMEOUT (queries under name are
forwarded to a UDP socket that never answers: c-ares times out).
"""
import json
import os
import socket
import subprocess

import pytest
import time

from conftest import BUILD, REPO, free_udp_port, stop_process

TOOL_SRC = REPO / "tests" / "tools" / "trust_check.c"


def trust_check_binary():
    """Build build/trust-check against the same libtrust as smtpd."""
    out = BUILD / "trust-check"
    libs = [BUILD / "libtrust.a", BUILD / "libstore.a", BUILD / "libcommon.a"]
    if out.exists() and out.stat().st_mtime >= max(p.stat().st_mtime for p in [TOOL_SRC, *libs]):
        return out
    flags = subprocess.run(["pkg-config", "--libs", "libevent", "libevent_pthreads", "libcares", "openssl",
                            "sqlite3", "libcrypt"],
                           capture_output=True, text=True, check=True).stdout.split()
    san = ["-fsanitize=address,undefined"] if "asan" in str(BUILD) else []
    subprocess.run(["cc", "-std=c11", "-O1", "-g", "-D_GNU_SOURCE", *san, "-o", str(out),
                    str(TOOL_SRC), *map(str, libs), *flags], check=True)
    return out


def _quote(s):
    # In a dnsmasq config file, a quoted string keeps its commas and
    # spaces; \\r writes a CR (command-line arguments are not unquoted).
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r") + '"'


class Zone:
    """dnsmasq on a free loopback port serving `records`; a context manager."""

    def __init__(self, records, tmpdir, ttl=0):
        self.records = records
        self.tmpdir = tmpdir
        self.ttl = ttl  # dnsmasq answers its own records with TTL 0 unless told
        self.proc = None
        self.blackhole = None

    def args(self):
        out = []
        for name, rrs in self.records.items():
            for typ, val in rrs:
                if typ == "TXT":
                    parts = val if isinstance(val, list) else [val]
                    out.append(f"txt-record={name}," + ",".join(_quote(p) for p in parts))
                elif typ == "A":
                    out.append(f"host-record={name},{val}")
                elif typ == "TXT_RAW":
                    # one string of any octets (a NUL too, which txt-record
                    # cannot carry): the RDATA in hex, length first
                    out.append(f"dns-rr={name},16,{bytes([len(val)]).hex()}{val.hex()}")
                elif typ == "MX" and val[1] == ".":
                    # the null MX (RFC 7505): preference, then the root name
                    out.append(f"dns-rr={name},15,{val[0]:04x}00")
                elif typ == "MX":
                    out.append(f"mx-host={name},{val[1]},{val[0]}")
                elif typ == "PTR":
                    out.append(f"ptr-record={name},{val}")
                elif typ == "TIMEOUT":
                    out.append(f"server=/{name}/127.0.0.1#{self.blackhole.getsockname()[1]}")
                else:
                    raise ValueError(typ)
        if self.ttl:
            out.append(f"local-ttl={self.ttl}")
        # server=/x/ forwards x and every name under it; a name we define
        # under a timing-out one must still answer (NODATA) by itself
        slow = [n for n, rrs in self.records.items() if any(t == "TIMEOUT" for t, _ in rrs)]
        for name in self.records:
            if name not in slow and any(name.endswith("." + s) for s in slow):
                out.append(f"local=/{name}/")
        return out

    def __enter__(self):
        self.blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.blackhole.bind(("127.0.0.1", 0))
        conf = self.tmpdir / "dnsmasq.conf"
        conf.write_bytes(("\n".join(self.args()) + "\n").encode("latin-1"))
        for _ in range(5):
            self.port = free_udp_port()
            cmd = ["dnsmasq", "-k", "-C", str(conf), "-p", str(self.port),
                   "--listen-address=127.0.0.1", "--bind-interfaces", "-R", "-h",
                   "--pid-file", "--user=root", "--address=/#/"]
            log = open(self.tmpdir / "dnsmasq.log", "ab")
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log)
            if self._ready():
                return self
            self.proc.kill()
            self.proc.wait()
        raise RuntimeError("dnsmasq did not start: " + (self.tmpdir / "dnsmasq.log").read_text())

    def _ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            r = subprocess.run(["dig", "+time=1", "+tries=1", "-p", str(self.port),
                                "@127.0.0.1", "TXT", "ready.invalid"],
                               capture_output=True, text=True)
            if "status:" in r.stdout:
                return True
            time.sleep(0.1)
        return False

    def __exit__(self, *exc):
        stop_process(self.proc, 10)
        self.blackhole.close()

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"


# "worker": trust-check verifies DKIM on the worker thread, as smtpd does;
# test_trust_dkim.py and test_trust_verdict.py run every case both ways.
DKIM_MODE = {"worker": False}


@pytest.fixture(params=["loop", "worker"])
def dkim_mode(request):
    """Import with autouse in a module: its tests run with the DKIM
    arithmetic on the loop and on the worker thread; same answers."""
    DKIM_MODE["worker"] = request.param == "worker"
    yield request.param
    DKIM_MODE["worker"] = False


def run_tool(zone, lines, timeout_ms=400, now=None):
    """Run trust-check with commands (lists of fields); JSON results."""
    cmd = [str(trust_check_binary()), "-s", zone.server, "-t", str(timeout_ms)]
    if DKIM_MODE["worker"]:
        cmd.append("-w")
    if now:
        cmd += ["-n", str(now)]
    data = "".join("\t".join(f) + "\n" for f in lines).encode("latin-1")
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = [json.loads(l) for l in r.stdout.decode().splitlines()]
    assert len(out) == len(lines), r.stdout
    return out


def test_answers_are_cached_for_their_ttl(tmp_path):
    """With a TTL, a second identical check needs no DNS server at all (the
    answers come from the context's cache); a name never asked still needs
    one (temperror once the server is gone)."""
    import subprocess as sp
    zone = Zone({"ok.test": [("TXT", "v=spf1 a:mx.ok.test -all")],
                 "mx.ok.test": [("A", "192.0.2.9")]}, tmp_path, ttl=300)
    zone.__enter__()
    p = sp.Popen([str(trust_check_binary()), "-s", zone.server, "-t", "300"],
                 stdin=sp.PIPE, stdout=sp.PIPE)
    try:
        def ask(line):
            p.stdin.write(("\t".join(line) + "\n").encode())
            p.stdin.flush()
            return json.loads(p.stdout.readline())
        assert ask(["spf", "192.0.2.9", "h.test", "a@ok.test"])["spf"] == "pass"
        zone.__exit__(None, None, None)
        assert ask(["spf", "192.0.2.9", "h.test", "b@ok.test"])["spf"] == "pass"
        assert ask(["spf", "192.0.2.8", "h.test", "b@ok.test"])["spf"] == "fail"
        assert ask(["spf", "192.0.2.9", "h.test", "a@other.test"])["spf"] == "temperror"
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    assert p.returncode == 0


def test_trust_check_builds_and_answers(tmp_path):
    """The driver answers an SPF pass and a DNSBL miss from a real dnsmasq."""
    with Zone({"ok.test": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all")]}, tmp_path) as z:
        res = run_tool(z, [["spf", "192.0.2.9", "h.test", "a@ok.test"],
                           ["spf", "198.51.100.1", "h.test", "a@ok.test"],
                           ["dnsbl", "192.0.2.9", "bl.test"]])
    assert res[0]["spf"] == "pass"
    assert res[1]["spf"] == "fail"
    assert res[2]["listed"] is False
