"""Real POP3 clients others wrote against mailroom-pop3d: fetchmail
(Debian) fetching through an MDA into a file, keeping or deleting on the
server, over STLS and POP3S; curl's pop3:// and pop3s://."""
import os
import shutil
import subprocess

import pytest

from pop3_util import PASSWORD, USER, insecure_context, message, pop3_client, start_pop3d

pytestmark = pytest.mark.skipif(not shutil.which("fetchmail") or not shutil.which("curl"),
                                reason="fetchmail and curl (Debian) are needed")

MSGS = [message("fetch one", ["first body"]),
        message("fetch two", [".dotted line", "second body"])]


@pytest.fixture
def pop(mailroom):
    return start_pop3d(mailroom, *MSGS)


def server_stat(m):
    p = pop3_client(m)
    st = p.stat()
    p.quit()
    return st


def fetchmail(m, tmp_path, keep, implicit_tls=False):
    out = tmp_path / "delivered.mbox"
    rc = tmp_path / "fetchmailrc"
    port = m.ports["pop3s" if implicit_tls else "pop3"]
    tls = "ssl" if implicit_tls else "sslproto TLS1.2+"
    rc.write_text(
        f'poll 127.0.0.1 with proto POP3 port {port} timeout 30\n'
        f'  user "{USER}" there with password "{PASSWORD}" is root here\n'
        f'  {"keep" if keep else "nokeep"} fetchall {tls} no sslcertck\n'
        f'  mda "cat >> {out}"\n')
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path))
    r = subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog", "-N", "-v",
                        "--pidfile", str(tmp_path / "fm.pid"), "-i", str(tmp_path / "ids")],
                       capture_output=True, text=True, timeout=120, env=env)
    return r, out


def test_fetchmail_keep_then_delete_over_stls(pop, tmp_path):
    r, out = fetchmail(pop, tmp_path, keep=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "STLS" in r.stdout + r.stderr
    got = out.read_text()
    assert "Subject: fetch one" in got and "Subject: fetch two" in got
    assert "\n.dotted line\n" in got  # unstuffed by the client
    assert server_stat(pop)[0] == 2  # kept
    out.unlink()
    r, out = fetchmail(pop, tmp_path, keep=False)
    assert r.returncode == 0, r.stdout + r.stderr
    got = out.read_text()
    assert got.count("Subject: fetch") == 2
    assert server_stat(pop) == (0, 0)  # deleted at QUIT
    assert "2 messages deleted" in pop.log("pop3d") or "deleted=2" in pop.log("pop3d")


def test_fetchmail_over_pop3s(pop, tmp_path):
    r, out = fetchmail(pop, tmp_path, keep=False, implicit_tls=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.read_text().count("Subject: fetch") == 2
    assert server_stat(pop) == (0, 0)


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True,
                          timeout=60)


def test_curl_pop3_list_retr_and_stls(pop):
    base = f"pop3://127.0.0.1:{pop.ports['pop3']}"
    r = curl("-u", f"{USER}:{PASSWORD}", base + "/")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [f"1 {len(MSGS[0])}", f"2 {len(MSGS[1])}"]
    r = curl("-u", f"{USER}:{PASSWORD}", base + "/2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == MSGS[1]
    r = curl("--ssl-reqd", "--insecure", "-u", f"{USER}:{PASSWORD}", base + "/1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == MSGS[0]
    r = curl("-u", f"{USER}:{PASSWORD}", "-X", "UIDL", base + "/")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2
    r = curl("-u", f"{USER}:wrong", base + "/1")
    assert r.returncode != 0  # login denied
    assert "method=USER tls=yes" in pop.log("pop3d") or "method=PLAIN tls=yes" in pop.log("pop3d")


def test_curl_pop3s_retr_and_dele(pop):
    base = f"pop3s://127.0.0.1:{pop.ports['pop3s']}"
    r = curl("--insecure", "-u", f"{USER}:{PASSWORD}", base + "/1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == MSGS[0]
    r = curl("--insecure", "-u", f"{USER}:{PASSWORD}", "-X", "DELE", "-I", base + "/1")
    assert r.returncode == 0, r.stderr
    assert server_stat(pop) == (1, len(MSGS[1]))
