"""smtpd's timeouts and session limits are [smtp] keys in the config file,
written here the way an admin writes them (2s, yes), not via the helper."""
import subprocess
import time

from conftest import BUILD
from smtp_util import USERS, Dialog, probes_gone, wait_for


def start(m, **smtp):
    m.extra.setdefault("smtp", {}).update({"greeting_delay": "0", **smtp})
    m.write_config()
    for u, pw in USERS.items():
        m.add_user(u, pw)
    m.start("smtpd")
    return m


def test_command_timeout_key_closes_idle_session(mailroom):
    m = start(mailroom, command_timeout="2s")
    d = Dialog(m.ports["smtp"])
    d.expect("EHLO idle.test", 250)
    t0 = time.monotonic()
    d.sock.settimeout(10)
    d.expect(None, 421, "4.4.2")
    waited = time.monotonic() - t0
    assert d.closed()
    assert 1.5 <= waited <= 5, waited
    # an active client is not cut off by the same timeout
    a = Dialog(m.ports["smtp"])
    for _ in range(4):
        time.sleep(0.8)
        a.expect("NOOP", 250)
    a.expect("QUIT", 221)


def test_greeting_delay_key(mailroom):
    m = start(mailroom, greeting_delay="700ms")
    t0 = time.monotonic()
    d = Dialog(m.ports["smtp"])
    assert d.greeting[0] == 220
    assert time.monotonic() - t0 >= 0.6
    # submission has no greeting delay
    t0 = time.monotonic()
    s = Dialog(m.ports["submission"])
    assert s.greeting[0] == 220 and time.monotonic() - t0 < 0.5


def test_max_per_ip_key_refuses_third_session(mailroom):
    m = start(mailroom, max_per_ip="2", limit_loopback="yes")
    assert wait_for(lambda: probes_gone(m))
    refused = m.log("smtpd").count("event=per-ip-limit sessions=2")
    held = [Dialog(m.ports["smtp"]) for _ in range(2)]
    for h in held:
        assert h.greeting[0] == 220
    third = Dialog(m.ports["smtp"])
    assert third.greeting[0] == 421, third.greeting
    assert third.greeting[1][0].startswith("4.7.0"), third.greeting
    assert third.closed()
    assert m.log("smtpd").count("event=per-ip-limit sessions=2") == refused + 1
    held[0].expect("QUIT", 221)
    assert held[0].closed()
    time.sleep(0.2)
    assert Dialog(m.ports["smtp"]).greeting[0] == 220


def test_loopback_not_limited_by_default(mailroom):
    m = start(mailroom, max_per_ip="2")
    held = [Dialog(m.ports["smtp"]) for _ in range(4)]
    assert all(h.greeting[0] == 220 for h in held)


def test_bad_value_exits_1_with_file_and_line(mailroom):
    m = mailroom
    m.extra["smtp"] = {"command_timeout": "soon"}
    m.write_config()
    lineno = next(i for i, l in enumerate(m.cfg_path.read_text().splitlines(), 1)
                  if l.startswith("command_timeout"))
    r = subprocess.run([str(BUILD / "mailroom-smtpd"), "-c", str(m.cfg_path)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    assert f"{m.cfg_path}:{lineno}:" in lines[0] and "soon" in lines[0], lines[0]
    # out of range too
    m.extra["smtp"] = {"max_per_ip": "0"}
    m.write_config()
    r = subprocess.run([str(BUILD / "mailroom-smtpd"), "-c", str(m.cfg_path)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r
    assert f"{m.cfg_path}:" in r.stderr and "'max_per_ip'" in r.stderr, r.stderr


def test_env_vars_are_gone(mailroom, monkeypatch):
    """The old MAILROOM_SMTPD_* variables no longer change anything."""
    monkeypatch.setenv("MAILROOM_SMTPD_GREETING_DELAY_MS", "3000")
    m = start(mailroom)
    t0 = time.monotonic()
    assert Dialog(m.ports["smtp"]).greeting[0] == 220
    assert time.monotonic() - t0 < 1.5
