"""The Debian package, installed for real on this machine (`make deb-test`).

The module installs build/deb/mailroom_*.deb with `dpkg -i` (root; this is
the test machine) after putting a reseller's /etc/mailroom/preseed.conf in
place, checks what landed where, runs the units' own ExecStart lines as the
units' User= (systemd is not PID 1 here, so setpriv stands in for it with
the same capability and no_new_privs settings), smoke-tests SMTP in, POP3
out and the panel's login page on free loopback ports (a test config next
to the packaged one), reads privileges from /proc/PID/status, checks the
privilege drop of a daemon started as root without systemd, and finally
`MAILROOM_PURGE_DATA=yes dpkg --purge mailroom` and asserts the machine is
as it was (no user, no /etc/mailroom, no /var/lib/mailroom, no unit links).

Skipped unless MAILROOM_DEB_DIR is set (the Makefile's deb-test sets it),
so `make test-integration` never installs anything.
"""
import email
import glob
import http.client
import os
import pathlib
import poplib
import pwd
import re
import shlex
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import free_port, free_udp_port, wait_port

DEB_DIR = os.environ.get("MAILROOM_DEB_DIR")
pytestmark = pytest.mark.skipif(not DEB_DIR, reason="make deb-test sets MAILROOM_DEB_DIR")

UNIT_DIR = pathlib.Path("/lib/systemd/system")
DAEMONS = ("smtpd", "pop3d", "webadmin", "queued")
PROGRAMS = ["mailroom-" + d for d in DAEMONS] + ["mailroomctl"]
CAP_NET_BIND_SERVICE = 1 << 10

PRESEED = """\
# written by tests/integration/test_packaging.py
[domains]
names = preseed.test, second.test

[admin]
address = boss@preseed.test

[smarthost]
host = smarthost.preseed.test:587
user = relay-user
password = relay-secret

[branding]
product_name = Reseller Mail Box
logo = /usr/share/mailroom/logo.png
support = help@reseller.test
"""


def run(cmd, check=True, env=None, timeout=120, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def machine_state():
    """What the package may touch; compared before install and after purge."""
    links = sorted(glob.glob("/etc/systemd/system/**/mailroom*", recursive=True))
    return {
        "user": run(["getent", "passwd", "mailroom"], check=False).stdout,
        "group": run(["getent", "group", "mailroom"], check=False).stdout,
        "etc": os.path.exists("/etc/mailroom"),
        "data": os.path.exists("/var/lib/mailroom"),
        "units": sorted(glob.glob("/lib/systemd/system/mailroom*")),
        "links": links,
        "fail2ban": sorted(glob.glob("/etc/fail2ban/*/mailroom.conf")),
        "dpkg": run(["dpkg-query", "-W", "-f=${Status}", "mailroom"], check=False).stdout,
    }


def unit_settings(unit):
    """Key -> list of values of a unit file (every line kept, in order)."""
    out = {}
    for line in (UNIT_DIR / unit).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;[" or "=" not in line:
            continue
        k, v = line.split("=", 1)
        out.setdefault(k.strip(), []).append(v.strip())
    return out


def proc_status(pid):
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.split()
    return fields


class Box:
    """The installed package plus a test config on free loopback ports."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = {}
        self.logs = {}
        self.pw = pwd.getpwnam("mailroom")
        self.ports = {k: free_port() for k in
                      ("smtp", "submission", "smtps", "pop3", "pop3s", "admin", "http")}
        self.dns_port = free_udp_port()
        self.conf = tmp / "mailroom.conf"

    def write_conf(self, extra_server=""):
        # The packaged file with the listeners moved to free loopback ports.
        text = pathlib.Path("/etc/mailroom/mailroom.conf").read_text()
        p = self.ports
        repl = {
            ("smtp", "listen"): f"127.0.0.1:{p['smtp']}",
            ("smtp", "submission_listen"): f"127.0.0.1:{p['submission']}",
            ("smtp", "smtps_listen"): f"127.0.0.1:{p['smtps']}",
            ("pop3", "listen"): f"127.0.0.1:{p['pop3']}",
            ("pop3", "pop3s_listen"): f"127.0.0.1:{p['pop3s']}",
            ("admin", "listen"): f"127.0.0.1:{p['admin']}",
            ("admin", "http_listen"): f"127.0.0.1:{p['http']}",
        }
        out, section = [], None
        for line in text.splitlines():
            m = re.match(r"\s*\[(\w+)\]", line)
            if m:
                section = m.group(1)
            kv = re.match(r"\s*(\w+)\s*=", line)
            if kv and (section, kv.group(1)) in repl:
                line = f"{kv.group(1)} = {repl[(section, kv.group(1))]}"
            out.append(line)
            if section == "server" and m:
                out.append("hostname = mail.preseed.test")
                if extra_server:
                    out.append(extra_server)
            if section == "smtp" and m:
                out.append(f"dns_servers = 127.0.0.1:{self.dns_port}")
        self.conf.write_text("\n".join(out) + "\n")
        self.conf.chmod(0o644)

    def ctl(self, *args, input=None, check=True):
        return run(["runuser", "-u", "mailroom", "--", "/usr/sbin/mailroomctl",
                    "-c", str(self.conf)] + list(args), input=input, check=check)

    def unit_command(self, unit):
        """The unit's ExecStart run the way systemd would: User=, Group=,
        AmbientCapabilities=, NoNewPrivileges=, UMask= (setpriv, umask)."""
        s = unit_settings(unit)
        argv = shlex.split(s["ExecStart"][0])
        argv = [str(self.conf) if a == "/etc/mailroom/mailroom.conf" else a for a in argv]
        cmd = ["setpriv", f"--reuid={s['User'][0]}", f"--regid={s.get('Group', s['User'])[0]}",
               "--clear-groups"]
        caps = [c.lower().replace("cap_", "") for v in s.get("AmbientCapabilities", [])
                for c in v.split()]
        if caps:
            spec = ",".join("+" + c for c in caps)
            cmd += [f"--inh-caps={spec}", f"--ambient-caps={spec}"]
        if s.get("NoNewPrivileges", ["no"])[0] == "yes":
            cmd.append("--no-new-privs")
        umask = s.get("UMask", ["0022"])[0]
        return ["sh", "-c", f'umask {umask}; exec "$@"', "sh"] + cmd + ["--"] + argv

    def start(self, name, cmd, port=None, log_event=None, env=None):
        log = open(self.tmp / f"{name}.log", "w+")
        self.logs[name] = log
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs[name] = proc
        if port:
            wait_port(port, proc=proc)
        if log_event:
            deadline = time.monotonic() + 10
            while log_event not in self.log(name):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{name} did not log {log_event}:\n{self.log(name)}")
                time.sleep(0.05)
        return proc

    def log(self, name):
        return (self.tmp / f"{name}.log").read_text()

    def stop_all(self):
        for name, p in self.procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in self.logs.values():
            f.close()


@pytest.fixture(scope="module")
def box():
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    debs = sorted(glob.glob(os.path.join(DEB_DIR, "mailroom_*.deb")))
    assert debs, f"no mailroom_*.deb in {DEB_DIR} (make deb)"
    before = machine_state()
    assert not before["dpkg"].startswith("install ok"), \
        "a mailroom package is already installed here; refusing to replace it " \
        "(a leftover of an interrupted run? MAILROOM_PURGE_DATA=yes dpkg --purge mailroom)"
    assert not before["user"] and not before["data"], \
        "a mailroom user or /var/lib/mailroom exists already; this test would take them over"

    assert not os.path.exists("/etc/mailroom/preseed.conf"), "a real preseed.conf is here"
    # Where systemd is PID 1, postinst would start the real services on
    # ports 25/110/443/80: forbid that for the test's install and purge
    # (policy-rc.d exit 101, which deb-systemd-invoke honours).
    policy = pathlib.Path("/usr/sbin/policy-rc.d")
    own_policy = os.path.isdir("/run/systemd/system") and not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\n# mailroom deb-test: no service starts\nexit 101\n")
        policy.chmod(0o755)

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="mailroom-pkgtest-"))
    tmp.chmod(0o755)  # the mailroom user reads the test config in it
    dns = None
    b = None
    os.makedirs("/etc/mailroom", exist_ok=True)
    pathlib.Path("/etc/mailroom/preseed.conf").write_text(PRESEED)
    try:
        r = run(["dpkg", "-i", debs[-1]], timeout=300)
        b = Box(tmp)
        b.install_output = r.stdout + r.stderr
        # Every name this test's daemons or pebble look up is answered here.
        dns = subprocess.Popen(
            ["dnsmasq", "-k", "-C", "/dev/null", "-p", str(b.dns_port),
             "--listen-address=127.0.0.1", "--bind-interfaces", "-R", "-h",
             "--address=/mail.preseed.test/127.0.0.1", "--address=/#/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b.write_conf()
        yield b
    finally:
        if b is not None:
            b.stop_all()
        if dns is not None:
            dns.terminate()
            dns.wait()
        pathlib.Path("/etc/mailroom/preseed.conf").unlink(missing_ok=True)
        env = dict(os.environ, MAILROOM_PURGE_DATA="yes")
        purge = run(["dpkg", "--purge", "mailroom"], env=env, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        if own_policy:
            policy.unlink(missing_ok=True)
        after = machine_state()
        assert purge.returncode == 0, purge.stdout + purge.stderr
        assert after == before, f"machine not restored:\nbefore {before}\nafter  {after}"


def test_files_users_and_modes(box):
    for prog in PROGRAMS:
        path = pathlib.Path("/usr/sbin") / prog
        assert path.is_file() and os.access(path, os.X_OK), prog
        assert pathlib.Path(f"/usr/share/man/man8/{prog}.8.gz").is_file(), prog
        man = run(["man", "-l", f"/usr/share/man/man8/{prog}.8.gz"], env=dict(os.environ, MANWIDTH="80"))
        assert prog in man.stdout and "SYNOPSIS" in man.stdout
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "mailroom"]).stdout
    for f in ("/etc/mailroom/mailroom.conf", "/etc/mailroom/acme.conf",
              "/etc/fail2ban/filter.d/mailroom.conf", "/etc/fail2ban/jail.d/mailroom.conf"):
        assert f in conffiles, f
    pw = box.pw
    assert pw.pw_uid < 1000 and pw.pw_shell in ("/usr/sbin/nologin", "/bin/false")
    st = os.stat("/var/lib/mailroom")
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o700, pw.pw_uid, pw.pw_gid)
    for f in ("mailroom.db", "tls/cert.pem", "tls/key.pem"):  # made by postinst's init
        assert os.stat(f"/var/lib/mailroom/{f}").st_uid == pw.pw_uid, f
    st = os.stat("/etc/mailroom/mailroom.conf")
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o640, 0, pw.pw_gid)
    # Enabled for when systemd runs the box: the four daemons under the target.
    for d in DAEMONS:
        assert os.path.islink(f"/etc/systemd/system/mailroom.target.wants/mailroom-{d}.service"), d
    assert os.path.islink("/etc/systemd/system/multi-user.target.wants/mailroom.target")


@pytest.mark.parametrize("unit", [f"mailroom-{d}.service" for d in DAEMONS] +
                         ["mailroom-acme.service", "mailroom-acme.timer", "mailroom.target"])
def test_unit_verify_clean(box, unit):
    r = run(["systemd-analyze", "verify", str(UNIT_DIR / unit)], check=False)
    noise = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    assert r.returncode == 0 and not noise, "\n".join(noise)


@pytest.mark.parametrize("unit", [f"mailroom-{d}.service" for d in DAEMONS] + ["mailroom-acme.service"])
def test_unit_exposure_at_most_2_5(box, unit):
    r = run(["systemd-analyze", "security", "--offline=true", str(UNIT_DIR / unit)])
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert m, r.stdout[-500:]
    assert float(m.group(1)) <= 2.5, r.stdout
    s = unit_settings(unit)
    assert s["User"] == ["mailroom"] and s["NoNewPrivileges"] == ["yes"]
    assert s["ProtectSystem"] == ["strict"] and s["ReadWritePaths"] == ["/var/lib/mailroom"]
    if unit != "mailroom-acme.service":
        assert s["Restart"] == ["on-failure"]
        assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_units_run_as_mailroom_smoke(box):
    """SMTP in, POP3 out, the panel's login page: the units' ExecStart as User=."""
    box.ctl("domain", "add", "smoke.test")
    box.ctl("user", "add", "alice@smoke.test", input="alice-pass-123\n")
    p = box.ports
    box.start("smtpd", box.unit_command("mailroom-smtpd.service"), port=p["smtp"])
    box.start("pop3d", box.unit_command("mailroom-pop3d.service"), port=p["pop3"])
    box.start("webadmin", box.unit_command("mailroom-webadmin.service"), port=p["admin"])
    box.start("queued", box.unit_command("mailroom-queued.service"), log_event="event=running smarthost=")

    with smtplib.SMTP("127.0.0.1", p["smtp"], timeout=10) as s:
        s.ehlo("client.remote.test")
        s.sendmail("bob@remote.test", ["alice@smoke.test"],
                   "From: bob@remote.test\r\nTo: alice@smoke.test\r\n"
                   "Subject: packaged hello\r\n\r\nfrom the .deb\r\n")

    deadline = time.monotonic() + 10
    while True:
        pop = poplib.POP3("127.0.0.1", p["pop3"], timeout=10)
        pop.user("alice@smoke.test")
        pop.pass_("alice-pass-123")
        count, _ = pop.stat()
        if count or time.monotonic() > deadline:
            break
        pop.quit()
        time.sleep(0.2)
    assert count == 1
    msg = email.message_from_bytes(b"\r\n".join(pop.retr(1)[1]))
    pop.quit()
    assert msg["Subject"] == "packaged hello"

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", p["admin"], context=ctx, timeout=10)
    c.request("GET", "/login")
    resp = c.getresponse()
    body = resp.read().decode("utf-8", "replace")
    assert resp.status == 200 and "password" in body.lower()
    c.close()


def test_privileges_from_proc(box):
    """What the kernel says about each running daemon (started above)."""
    pw = box.pw
    for d in DAEMONS:
        proc = box.procs[d]
        assert proc.poll() is None, box.log(d)
        st = proc_status(proc.pid)
        assert st["Uid"] == [str(pw.pw_uid)] * 4, (d, st["Uid"])
        assert st["Gid"] == [str(pw.pw_gid)] * 4, (d, st["Gid"])
        assert st.get("Groups", []) == [], (d, st.get("Groups"))
        assert st["NoNewPrivs"] == ["1"]
        cap_eff = int(st["CapEff"][0], 16)
        want = 0 if d == "queued" else CAP_NET_BIND_SERVICE
        assert cap_eff == want, (d, hex(cap_eff))


def test_sighup_reloads_without_dropping_sessions(box):
    p = box.ports
    s = smtplib.SMTP("127.0.0.1", p["smtp"], timeout=10)
    s.ehlo("client.remote.test")
    for d in ("smtpd", "pop3d", "webadmin"):
        box.procs[d].send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert s.noop()[0] == 250  # the session opened before SIGHUP goes on
    s.quit()
    for d in ("smtpd", "pop3d", "webadmin"):
        assert box.procs[d].poll() is None, box.log(d)
    with smtplib.SMTP("127.0.0.1", p["smtp"], timeout=10) as s2:
        assert s2.ehlo()[0] == 250


def low_free_port():
    for port in range(990, 700, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return None


def test_root_start_drops_to_mailroom(box, tmp_path):
    """Without systemd: started as root, pop3d binds a port below 1024 and
    ends up as mailroom with only CAP_NET_BIND_SERVICE."""
    low = low_free_port()
    if low is None:
        pytest.skip("no free port below 1024 on 127.0.0.1")
    conf = box.tmp / "root-start.conf"
    text = box.conf.read_text().replace(f"127.0.0.1:{box.ports['pop3']}", f"127.0.0.1:{low}")
    text = text.replace(f"127.0.0.1:{box.ports['pop3s']}", f"127.0.0.1:{free_port()}")
    conf.write_text(text)
    proc = box.start("pop3d-root", ["/usr/sbin/mailroom-pop3d", "-c", str(conf)], port=low)
    st = proc_status(proc.pid)
    assert st["Uid"] == [str(box.pw.pw_uid)] * 4 and st["Gid"] == [str(box.pw.pw_gid)] * 4
    assert st.get("Groups", []) == [] and st["NoNewPrivs"] == ["1"]
    assert int(st["CapEff"][0], 16) == CAP_NET_BIND_SERVICE
    assert int(st["CapPrm"][0], 16) == CAP_NET_BIND_SERVICE
    assert "event=privileges-dropped user=mailroom" in box.log("pop3d-root")
    pop = poplib.POP3("127.0.0.1", low, timeout=10)
    assert pop.getwelcome().startswith(b"+OK")
    pop.quit()
    proc.terminate()
    proc.wait(timeout=10)


def test_root_without_user_is_refused_for_the_packaged_data_dir(box):
    conf = box.tmp / "no-user.conf"
    conf.write_text(re.sub(r"(?m)^user = mailroom$", "", box.conf.read_text()))
    for prog in ("mailroom-smtpd", "mailroom-pop3d", "mailroom-webadmin", "mailroom-queued"):
        r = run([f"/usr/sbin/{prog}", "-c", str(conf)], check=False, timeout=20)
        assert r.returncode == 1, (prog, r.stdout, r.stderr)
        assert "refusing to run as root" in r.stderr + r.stdout, prog


def settings():
    """The store's settings table, read-only, as the web panel would see it."""
    import sqlite3
    db = sqlite3.connect("file:/var/lib/mailroom/mailroom.db?mode=ro", uri=True, timeout=10)
    try:
        return dict(db.execute("SELECT key, value FROM settings"))
    finally:
        db.close()


def test_preseed_applied_by_postinst(box):
    out = box.install_output
    m = re.search(r"setup code: (\S+)", out)
    assert m, out
    code = m.group(1)
    assert pathlib.Path("/var/lib/mailroom/setup-code").read_text().strip() == code
    st = os.stat("/var/lib/mailroom/setup-code")
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == box.pw.pw_uid
    domains = box.ctl("domain", "list").stdout
    assert re.search(r"(?m)^preseed\.test\t", domains) and re.search(r"(?m)^second\.test\t", domains)
    users = box.ctl("user", "list").stdout
    assert re.search(r"(?m)^boss@preseed\.test\tadmin\t", users), users
    s = settings()
    assert s["branding.product_name"] == "Reseller Mail Box"
    assert s["branding.logo"] == "/usr/share/mailroom/logo.png"
    assert s["branding.support"] == "help@reseller.test"
    assert s["smarthost.host"] == "smarthost.preseed.test:587"
    assert s["smarthost.user"] == "relay-user"
    assert "preseed.applied" in s
    # The sticker's code is the admin's password: the running pop3d takes it.
    pop = poplib.POP3("127.0.0.1", box.ports["pop3"], timeout=10)
    pop.user("boss@preseed.test")
    pop.pass_(code)
    pop.quit()


def test_preseed_not_applied_twice(box):
    before = settings()["preseed.applied"]
    box.ctl("domain", "del", "second.test")
    # What mailroom-webadmin.service runs before every start ('-' = may fail).
    pre = unit_settings("mailroom-webadmin.service")["ExecStartPre"][0]
    assert pre.startswith("-")
    argv = [str(box.conf) if a == "/etc/mailroom/mailroom.conf" else a
            for a in shlex.split(pre[1:])]
    r = run(["runuser", "-u", "mailroom", "--"] + argv)
    assert "already applied" in r.stdout
    r = box.ctl("preseed", "apply")
    assert "already applied" in r.stdout and "setup code" not in r.stdout
    assert not re.search(r"(?m)^second\.test\t", box.ctl("domain", "list").stdout)
    assert settings()["preseed.applied"] == before


def served_cert(kind, port):
    """DER of the certificate a daemon presents right now."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if kind == "smtp":
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.starttls(context=ctx)
            return s.sock.getpeercert(binary_form=True)
    if kind == "pop3s":
        pop = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=10)
        der = pop.sock.getpeercert(binary_form=True)
        pop.quit()
        return der
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as t:
            return t.getpeercert(binary_form=True)


def installed_cert_der():
    pem = pathlib.Path("/var/lib/mailroom/tls/cert.pem").read_text()
    first = pem[:pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    return ssl.PEM_cert_to_DER_cert(first)


def http_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers={"Host": "mail.preseed.test"})
    r = c.getresponse()
    body = r.read().decode("utf-8", "replace")
    c.close()
    return r.status, body


def test_webadmin_answers_acme_challenges(box):
    """The hook's file, served on [admin] http_listen; nothing else is."""
    hook = ["runuser", "-u", "mailroom", "--", "/usr/lib/mailroom/acme-hook"]
    token, auth = "tok_EN-123abc", "tok_EN-123abc.thumbprint_XYZ"
    run(hook + ["begin", "http-01", "mail.preseed.test", token, auth])
    f = pathlib.Path("/var/lib/mailroom/acme/challenge") / token
    assert f.read_text() == auth and f.stat().st_uid == box.pw.pw_uid
    assert http_get(box.ports["http"], "/.well-known/acme-challenge/" + token) == (200, auth)
    run(hook + ["done", "http-01", "mail.preseed.test", token, auth])
    assert not f.exists()
    assert http_get(box.ports["http"], "/.well-known/acme-challenge/" + token)[0] == 404
    for bad in ("..%2Fmailroom.db", "../mailroom.db", "", "a.b"):
        assert http_get(box.ports["http"], "/.well-known/acme-challenge/" + bad)[0] in (404, 400), bad
    assert http_get(box.ports["http"], "/login")[0] == 301  # the rest still redirects
    # The hook declines other challenge types and hostile tokens.
    assert run(hook + ["begin", "dns-01", "x", "tok", "a"], check=False).returncode == 1
    assert run(hook + ["begin", "http-01", "x", "../../x", "a"], check=False).returncode == 1


def make_pebble_cert(d):
    """A CA and a 127.0.0.1 certificate for pebble's own HTTPS listener."""
    def ssl_run(*args):
        run(["openssl"] + list(args))
    ssl_run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"), "-days", "2",
            "-subj", "/CN=mailroom test pebble CA")
    ssl_run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(d / "pebble.key"), "-out", str(d / "pebble.csr"), "-subj", "/CN=localhost")
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ssl_run("x509", "-req", "-in", str(d / "pebble.csr"), "-CA", str(d / "ca.pem"),
            "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "pebble.pem"),
            "-days", "2", "-extfile", str(d / "ext"))
    bundle = pathlib.Path("/etc/ssl/certs/ca-certificates.crt").read_text() + (d / "ca.pem").read_text()
    (d / "bundle.pem").write_text(bundle)
    (d / "bundle.pem").chmod(0o644)


def test_acme_certificate_from_pebble(box):
    """mailroom-acme (uacme + hook) gets a certificate from pebble, which
    checks http-01 on the webadmin's http_listen; SIGHUP (the units'
    ExecReload, which mailroom-acme.service's ExecStartPost triggers) puts
    it into every daemon without a restart."""
    d = box.tmp / "acme"
    d.mkdir()
    d.chmod(0o755)
    make_pebble_cert(d)
    pebble_port, mgmt_port, tls_port = free_port(), free_port(), free_port()
    (d / "pebble.json").write_text(
        '{"pebble": {"listenAddress": "127.0.0.1:%d", "managementListenAddress": "127.0.0.1:%d",'
        ' "certificate": "%s", "privateKey": "%s", "httpPort": %d, "tlsPort": %d,'
        ' "ocspResponderURL": "", "externalAccountBindingRequired": false}}'
        % (pebble_port, mgmt_port, d / "pebble.pem", d / "pebble.key", box.ports["http"], tls_port))
    env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
    box.start("pebble", ["pebble", "-config", str(d / "pebble.json"),
                         "-dnsserver", f"127.0.0.1:{box.dns_port}"], port=pebble_port, env=env)
    acme_conf = d / "acme.conf"
    acme_conf.write_text(f'ACME_ENABLE=yes\nACME_DOMAINS="mail.preseed.test"\n'
                         f'ACME_EMAIL="postmaster@preseed.test"\n'
                         f'ACME_DIRECTORY="https://127.0.0.1:{pebble_port}/dir"\n')
    acme_conf.chmod(0o644)

    before = {k: served_cert(k, p) for k, p in
              (("smtp", box.ports["smtp"]), ("pop3s", box.ports["pop3s"]), ("https", box.ports["admin"]))}
    assert before["smtp"] == installed_cert_der()  # the self-signed one from init

    # uacme trusts pebble's CA only inside this private mount namespace.
    script = ("mount --bind {b} /etc/ssl/certs/ca-certificates.crt && "
              "exec runuser -u mailroom -- env MAILROOM_CONF={c} MAILROOM_ACME_CONF={a} "
              "/usr/lib/mailroom/mailroom-acme").format(b=d / "bundle.pem", c=box.conf, a=acme_conf)
    r = run(["unshare", "-m", "sh", "-c", script], check=False, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr + box.log("pebble")[-2000:]
    assert "new certificate for mail.preseed.test" in r.stdout
    new = installed_cert_der()
    assert new != before["smtp"]
    issued = run(["openssl", "x509", "-noout", "-issuer", "-ext", "subjectAltName", "-in",
                  "/var/lib/mailroom/tls/cert.pem"]).stdout
    assert "Pebble" in issued and "mail.preseed.test" in issued, issued
    key = pathlib.Path("/var/lib/mailroom/tls/key.pem")
    assert key.stat().st_uid == box.pw.pw_uid and key.stat().st_mode & 0o077 == 0

    post = unit_settings("mailroom-acme.service")["ExecStartPost"][0]
    for d_ in ("smtpd", "pop3d", "webadmin"):
        assert f"mailroom-{d_}.service" in post
        assert unit_settings(f"mailroom-{d_}.service")["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
        box.procs[d_].send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while True:
        now = {k: served_cert(k, p) for k, p in
               (("smtp", box.ports["smtp"]), ("pop3s", box.ports["pop3s"]), ("https", box.ports["admin"]))}
        if all(v == new for v in now.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert {k: v == new for k, v in now.items()} == {"smtp": True, "pop3s": True, "https": True}
    for d_ in ("smtpd", "pop3d", "webadmin"):
        assert box.procs[d_].poll() is None  # reloaded, not restarted

    # The timer's next run: still current, nothing changes, exit 0.
    r = run(["unshare", "-m", "sh", "-c", script], check=False, timeout=120)
    assert r.returncode == 0 and "still current" in r.stdout, r.stdout + r.stderr
    assert installed_cert_der() == new


def test_factory_reset_returns_to_the_preseed(box):
    r = box.ctl("factory-reset", check=False)
    assert r.returncode == 1 and "--yes" in r.stderr
    r = box.ctl("factory-reset", "--yes", check=False)  # daemons still running
    assert r.returncode == 1 and "stop the daemons" in r.stderr, r.stderr
    assert re.search(r"(?m)^alice@smoke\.test\t", box.ctl("user", "list").stdout)
    box.stop_all()
    old_code = pathlib.Path("/var/lib/mailroom/setup-code").read_text().strip()
    r = box.ctl("factory-reset", "--yes")
    m = re.search(r"setup code: (\S+)", r.stdout)
    assert m and m.group(1) != old_code, r.stdout
    domains = box.ctl("domain", "list").stdout
    assert sorted(re.findall(r"(?m)^(\S+)\t", domains)) == ["preseed.test", "second.test"]
    users = box.ctl("user", "list").stdout
    assert re.findall(r"(?m)^(\S+)\t", users) == ["boss@preseed.test"]
    assert settings()["branding.product_name"] == "Reseller Mail Box"
    assert os.stat("/var/lib/mailroom/mailroom.db").st_uid == box.pw.pw_uid
    assert "already applied" in box.ctl("preseed", "apply").stdout
