"""Integration test harness: the real daemons on loopback, a temp data dir.

The `mailroom` fixture gives a `Mailroom` with a fresh data dir, a config on
free loopback ports, an initialised store (`mailroomctl init`) and a loopback
dnsmasq that the config's `dns_servers` points at (so no test ever asks the
machine's resolver). Daemons are started by the test (`m.start("smtpd")`) so
each test says what it needs; all are stopped at teardown, and a daemon that
died with a sanitizer report fails the test.

Binaries come from $MAILROOM_BUILD (default <repo>/build), so `make
test-integration BUILD=build/asan` runs the suite against sanitizer builds.
"""
import os
import pathlib
import random
import signal
import socket
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("MAILROOM_BUILD", REPO / "build"))

DAEMONS = {
    "smtpd": ("mailroom-smtpd", ("smtp", "submission", "smtps")),
    "pop3d": ("mailroom-pop3d", ("pop3", "pop3s")),
    "webadmin": ("mailroom-webadmin", ("admin",)),
    # No port: start() waits for its "event=running" log line instead.
    "queued": ("mailroom-queued", ()),
}

DOMAIN = "example.test"
HOSTNAME = "mail.example.test"


# Ports handed out by this process. Test ports come from below the kernel's
# ephemeral range (32768-60999 on Debian), so an outgoing connection made by
# any daemon or client cannot sit on a port a later test is about to listen
# on, and no two calls in one run return the same port (the kernel's bind(0)
# can, once the first probe socket is closed: a sink and the smtpd it feeds
# then collided in CI).
_PORT_LOW, _PORT_HIGH = 20000, 32000
_ports_given = set()
_port_rng = random.Random(os.getpid() ^ time.monotonic_ns())


def _port_free(port, kinds):
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _pick_port(kinds):
    for _ in range(10000):
        port = _port_rng.randrange(_PORT_LOW, _PORT_HIGH)
        if port not in _ports_given and _port_free(port, kinds):
            _ports_given.add(port)
            return port
    raise RuntimeError("no free loopback port left in the test range")


def free_port():
    """A TCP port nobody listens on now and no other test of this run got."""
    return _pick_port((socket.SOCK_STREAM,))


def free_udp_port():
    """A port free for both UDP and TCP (dnsmasq listens on both)."""
    return _pick_port((socket.SOCK_DGRAM, socket.SOCK_STREAM))


def wait_port(port, host="127.0.0.1", timeout=10.0, proc=None):
    """Wait until something accepts on host:port; fail early if proc died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port}")


def stop_process(proc, grace=10.0):
    """End a helper server a test started (dnsmasq, spamd, rspamd,
    smtp-sink): SIGTERM, then SIGKILL if it is still there after grace
    seconds. Nothing to do for None or one that has exited. (Our own daemons
    go through Mailroom.stop, which fails the test if SIGTERM is not enough.)"""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


class Mailroom:
    """One appliance under test: config, data dir, daemons, dnsmasq."""

    def __init__(self, tmp: pathlib.Path):
        self.dir = tmp
        self.data_dir = tmp / "data"
        self.cfg_path = tmp / "mailroom.conf"
        self.ports = {k: free_port() for k in
                      ("smtp", "submission", "smtps", "pop3", "pop3s", "admin", "relay")}
        self.dns_port = free_udp_port()
        self.hostname = HOSTNAME
        self.domain = DOMAIN
        # Extra config: {"smtp": {"message_size_limit": "1000000"}}; applied by write_config().
        self.extra = {}
        self.procs = {}
        self.logfiles = {}
        self.dnsmasq = None
        self.dns_args = []

    # ---- config and CLI ------------------------------------------------
    def write_config(self):
        p = self.ports
        sections = {
            "server": {
                "hostname": self.hostname,
                "data_dir": str(self.data_dir),
                "log_level": "debug",
            },
            "smtp": {
                "listen": f"127.0.0.1:{p['smtp']}",
                "submission_listen": f"127.0.0.1:{p['submission']}",
                "smtps_listen": f"127.0.0.1:{p['smtps']}",
                "relay_port": str(p["relay"]),
                "dns_servers": f"127.0.0.1:{self.dns_port}",
            },
            "pop3": {
                "listen": f"127.0.0.1:{p['pop3']}",
                "pop3s_listen": f"127.0.0.1:{p['pop3s']}",
            },
            "admin": {"listen": f"127.0.0.1:{p['admin']}"},
        }
        for sec, kv in self.extra.items():
            sections.setdefault(sec, {}).update(kv)
        lines = ["# written by tests/integration/conftest.py"]
        for sec, kv in sections.items():
            lines.append(f"[{sec}]")
            lines += [f"{k} = {v}" for k, v in kv.items()]
            lines.append("")
        self.cfg_path.write_text("\n".join(lines))

    def ctl(self, *args, input=None, check=True, config=True):
        """Run mailroomctl; returns CompletedProcess with text stdout/stderr."""
        cmd = [str(BUILD / "mailroomctl")]
        if config:
            cmd += ["-c", str(self.cfg_path)]
        cmd += [str(a) for a in args]
        r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} -> {r.returncode}\n{r.stdout}{r.stderr}")
        return r

    def init(self):
        self.write_config()
        self.ctl("init")
        self.ctl("domain", "add", self.domain)

    def add_user(self, address, password, role="user"):
        self.ctl("user", "add", address, "--role", role, input=password + "\n")

    @property
    def cert_path(self):
        return self.data_dir / "tls" / "cert.pem"

    @property
    def db_path(self):
        return self.data_dir / "mailroom.db"

    # ---- DNS -------------------------------------------------------------
    def start_dns(self, *records):
        """(Re)start dnsmasq with extra dnsmasq options, e.g.
        "--mx-host=remote.test,mx1.remote.test,10"; unknown names: NXDOMAIN."""
        self.stop_dns()
        self.dns_args = list(records)
        # Another test (or helper) may take the port between our probe and
        # dnsmasq's bind: then move to a new port and rewrite the config.
        for attempt in range(5):
            cmd = ["dnsmasq", "-k", "-C", "/dev/null", "-p", str(self.dns_port),
                   "--listen-address=127.0.0.1", "--bind-interfaces", "-R", "-h",
                   "--pid-file", "--user=root", "--address=/#/", *self.dns_args]
            log = open(self.dir / "dnsmasq.log", "ab")
            self.dnsmasq = subprocess.Popen(cmd, stdout=log, stderr=log)
            time.sleep(0.2)
            if self.dnsmasq.poll() is None:
                return
            if not any(p.poll() is None for p in self.procs.values()):
                self.dns_port = free_udp_port()
                if self.cfg_path.exists():
                    self.write_config()
        raise RuntimeError("dnsmasq did not start: " + (self.dir / "dnsmasq.log").read_text())

    def stop_dns(self):
        stop_process(self.dnsmasq, 5)
        self.dnsmasq = None

    # ---- daemons -----------------------------------------------------------
    def start(self, *names, wait=True):
        names = names or tuple(DAEMONS)
        for name in names:
            binary, portkeys = DAEMONS[name]
            logpath = self.dir / f"{name}.log"
            self.logfiles[name] = logpath
            log = open(logpath, "ab")
            env = dict(os.environ)
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
            proc = subprocess.Popen([str(BUILD / binary), "-c", str(self.cfg_path)],
                                    stdout=log, stderr=subprocess.STDOUT, env=env)
            self.procs[name] = proc
            if wait:
                for k in portkeys:
                    wait_port(self.ports[k], proc=proc)
                if not portkeys:
                    self.wait_log(name, "event=running smarthost=", proc=proc)  # not event=running-as-root
        return self

    def wait_log(self, name, text, timeout=10.0, proc=None, count=1):
        """Wait until the daemon's log holds text (count times); fail early if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log(name).count(text) >= count:
                return
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            time.sleep(0.05)
        raise TimeoutError(f"{name} log has no {text!r}:\n{self.log(name)[-3000:]}")

    def pid(self, name):
        return self.procs[name].pid

    def stop(self, name, sig=signal.SIGTERM, timeout=15):
        """Signal a daemon and wait; returns its exit status."""
        proc = self.procs.get(name)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(f"{name} did not stop within {timeout}s after {sig}")
        return proc.returncode

    def kill(self, name):
        return self.stop(name, signal.SIGKILL)

    def log(self, name):
        p = self.logfiles.get(name)
        return p.read_text(errors="replace") if p and p.exists() else ""

    def sanitizer_reports(self):
        return {n: self.log(n) for n in self.logfiles
                if any(m in self.log(n) for m in SANITIZER_MARKS)}

    def close(self):
        for name in list(self.procs):
            try:
                self.stop(name)
            except AssertionError:
                pass
        self.stop_dns()


@pytest.fixture
def mailroom_uninit(tmp_path):
    """A Mailroom with a config written but nothing initialised or started."""
    m = Mailroom(tmp_path)
    m.write_config()
    yield m
    m.close()


@pytest.fixture
def mailroom(tmp_path):
    """An initialised Mailroom (domain example.test), dnsmasq up, no daemon yet."""
    m = Mailroom(tmp_path)
    m.init()
    m.start_dns()
    yield m
    m.close()
    reports = m.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports.values())
