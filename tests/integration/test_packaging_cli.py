"""Privilege drop without systemd and the preseed verbs, on build/ binaries.

These need no package (they run in `make test-integration`): daemons
started as root with [server] user = nobody must end up as nobody, checked
from /proc/PID/status; root without a user is refused for a production
data dir and only warned about for a dev one; `mailroomctl preseed` and
`factory-reset` on a temp box. The packaged flow is test_packaging.py.
"""
import os
import pathlib
import poplib
import pwd
import re
import shutil
import smtplib
import subprocess
import tempfile

import pytest

from conftest import BUILD, Mailroom

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="privilege drop needs root")


def status(pid):
    out = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = v.split()
    return out


@pytest.fixture
def open_box():
    """A Mailroom in a 0755 temp dir (not under pytest's 0700 tree), so a
    daemon that became nobody can still reach its data dir."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="mailroom-privdrop-"))
    tmp.chmod(0o755)
    m = Mailroom(tmp)
    m.init()
    m.start_dns()
    yield m
    m.close()
    shutil.rmtree(tmp, ignore_errors=True)


def test_dev_root_without_user_warns_and_runs(mailroom):
    mailroom.start("pop3d")
    assert "event=running-as-root" in mailroom.log("pop3d")
    assert status(mailroom.pid("pop3d"))["Uid"][1] == "0"


def test_root_drops_to_configured_user_checked_in_proc(open_box):
    m = open_box
    nobody = pwd.getpwnam("nobody")
    m.extra["server"] = {"user": "nobody"}
    m.write_config()
    subprocess.run(["chown", "-R", "nobody:", str(m.data_dir)], check=True)
    m.add_user("alice@example.test", "alice-pass-1")
    subprocess.run(["chown", "-R", "nobody:", str(m.data_dir)], check=True)
    m.start("smtpd", "pop3d", "webadmin", "queued")
    for name in ("smtpd", "pop3d", "webadmin", "queued"):
        st = status(m.pid(name))
        assert st["Uid"] == [str(nobody.pw_uid)] * 4, (name, st["Uid"])
        assert st["Gid"] == [str(nobody.pw_gid)] * 4, (name, st["Gid"])
        assert st.get("Groups", []) == [], name
        assert int(st["CapEff"][0], 16) == 0 and int(st["CapPrm"][0], 16) == 0, name
        assert st["NoNewPrivs"] == ["1"], name
        assert "event=privileges-dropped user=nobody" in m.log(name), m.log(name)
    # The store, opened after the drop, is writable and readable as nobody.
    with smtplib.SMTP("127.0.0.1", m.ports["smtp"], timeout=10) as s:
        s.sendmail("bob@remote.test", ["alice@example.test"],
                   "Subject: dropped\r\n\r\nhello\r\n")
    pop = poplib.POP3("127.0.0.1", m.ports["pop3"], timeout=10)
    pop.user("alice@example.test")
    pop.pass_("alice-pass-1")
    assert pop.stat()[0] == 1
    pop.quit()
    wal = m.data_dir / "mailroom.db-wal"
    if wal.exists():
        assert wal.stat().st_uid == nobody.pw_uid


@pytest.mark.parametrize("user, why", [("root", "refusing to run as root"),
                                       ("no_such_user_mr", "does not exist")])
def test_root_with_bad_user_refused(mailroom, user, why):
    mailroom.extra["server"] = {"user": user}
    mailroom.write_config()
    for binary in ("mailroom-smtpd", "mailroom-pop3d", "mailroom-webadmin", "mailroom-queued"):
        r = subprocess.run([str(BUILD / binary), "-c", str(mailroom.cfg_path)],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 1 and why in r.stdout + r.stderr, (binary, r.stdout, r.stderr)


def test_root_without_user_refused_for_production_data_dir(mailroom):
    mailroom.extra["server"] = {"data_dir": "/var/lib/mailroom/not-there"}
    mailroom.write_config()
    r = subprocess.run([str(BUILD / "mailroom-pop3d"), "-c", str(mailroom.cfg_path)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "refusing to run as root" in r.stdout + r.stderr


# ---- preseed ------------------------------------------------------------------

PRESEED = """\
[domains]
names = alpha.test beta.test
[admin]
address = chief@alpha.test
password = chief-pass-123
[smarthost]
host = relay.alpha.test:587
password = relay-secret
[branding]
product_name = Alpha Mail
support = +1 555 0100
"""


@pytest.fixture
def empty_box(mailroom_uninit):
    m = mailroom_uninit
    m.ctl("init")
    return m


@pytest.mark.parametrize("text, want", [
    ("[domains]\nnames = a.test\n[admin]\nadress = x@a.test\n", ":4: unknown key 'adress' in [admin]"),
    ("[brand]\n", ":1: unknown section [brand]"),
    ("names = a.test\n", ":1: key outside a section"),
    ("[domains]\nnames = a.test\n[admin]\naddress = x@b.test\n", "not in one of [domains] names"),
    ("[smarthost]\nhost = relay.test\n", "HOST:PORT"),
    ("[branding]\nlogo = logo.png\n", "absolute path"),
    ("[domains]\nnames = bad..domain\n", "bad domain"),
])
def test_preseed_errors_are_one_line_and_change_nothing(empty_box, tmp_path, text, want):
    f = tmp_path / "preseed.conf"
    f.write_text(text)
    r = empty_box.ctl("preseed", "apply", f, check=False)
    assert r.returncode == 1 and want in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert empty_box.ctl("domain", "list").stdout == ""


def test_preseed_apply_once_show_masks_passwords(empty_box, tmp_path):
    m = empty_box
    f = tmp_path / "preseed.conf"
    f.write_text(PRESEED)
    shown = m.ctl("preseed", "show", f).stdout
    assert "chief-pass-123" not in shown and "relay-secret" not in shown
    assert "admin\tchief@alpha.test\tpassword set" in shown
    r = m.ctl("preseed", "apply", f)
    assert "setup code" not in r.stdout  # a password was given
    assert re.findall(r"(?m)^(\S+)\t", m.ctl("domain", "list").stdout) == ["alpha.test", "beta.test"]
    assert "chief@alpha.test\tadmin" in m.ctl("user", "list").stdout
    m.ctl("domain", "del", "beta.test")
    assert "already applied" in m.ctl("preseed", "apply", f).stdout
    assert "beta.test" not in m.ctl("domain", "list").stdout
    assert "nothing to do" in m.ctl("preseed", "apply", tmp_path / "absent.conf").stdout


def test_preseed_skips_a_box_in_use(empty_box, tmp_path):
    m = empty_box
    m.ctl("domain", "add", "own.test")
    f = tmp_path / "preseed.conf"
    f.write_text(PRESEED)
    assert "not empty" in m.ctl("preseed", "apply", f).stdout
    assert "alpha.test" not in m.ctl("domain", "list").stdout


def test_factory_reset_needs_yes_and_stopped_daemons(mailroom):
    m = mailroom
    r = m.ctl("factory-reset", check=False)
    assert r.returncode == 1 and "--yes" in r.stderr
    m.start("pop3d")
    r = m.ctl("factory-reset", "--yes", check=False)
    assert r.returncode == 1 and "stop the daemons" in r.stderr
    assert "example.test" in m.ctl("domain", "list").stdout
    m.stop("pop3d")
    cert = m.cert_path.read_bytes()
    r = m.ctl("factory-reset", "--yes")
    assert m.ctl("domain", "list").stdout == ""
    assert m.cert_path.read_bytes() == cert  # the box's certificate is kept
