"""[pop3] idle_timeout: a quiet client is logged out with '-ERR autologout'
(RFC 1939 3) before and after login, DELE marks of such a session are not
applied, and a client that keeps talking is never cut. The timeout is set to
2 s here so the test runs in seconds; the default is RFC 1939's 10 minutes,
and anything shorter is warned about in the log at startup."""
import time

import pytest

from pop3_util import Raw, login, message, start_pop3d

IDLE_S = 2


@pytest.fixture
def pop_short(mailroom):
    m = mailroom
    m.extra = {"pop3": {"idle_timeout": f"{IDLE_S}s"}}
    m.write_config()
    return start_pop3d(m, message("one"), message("two"), message("three"))


def autologout_within(r, limit):
    """Wait for the server's goodbye and EOF; returns (line, seconds)."""
    t0 = time.monotonic()
    r.sock.settimeout(limit)
    line = r.line()
    assert r.closed(timeout=limit), "connection left open after autologout"
    return line, time.monotonic() - t0


def test_idle_before_login_is_logged_out(pop_short):
    with Raw(pop_short.ports["pop3"]) as r:
        assert r.line().startswith("+OK")
        line, took = autologout_within(r, IDLE_S + 5)
        assert line.startswith("-ERR") and "autologout" in line, line
        assert IDLE_S - 0.5 <= took <= IDLE_S + 4, took
    log = pop_short.logfiles["pop3d"].read_text()
    assert "event=idle-timeout" in log
    assert "event=short-idle-timeout" in log, "no startup warning for idle_timeout < 10 min"


def test_idle_after_dele_logs_out_and_deletes_nothing(pop_short):
    with login(pop_short.ports["pop3"]) as r:
        assert r.cmd("DELE 1").startswith("+OK")
        assert r.cmd("DELE 3").startswith("+OK")
        line, took = autologout_within(r, IDLE_S + 5)
        assert line.startswith("-ERR") and "autologout" in line, line
        assert took <= IDLE_S + 4, took
    # The lock is released and the three messages are all still there.
    with login(pop_short.ports["pop3"]) as r:
        assert r.cmd("STAT").startswith("+OK 3 ")
        assert r.cmd("QUIT").startswith("+OK")


def test_active_session_with_noop_every_second_is_not_cut(pop_short):
    with login(pop_short.ports["pop3"]) as r:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2 * IDLE_S:
            time.sleep(1)
            assert r.cmd("NOOP") == "+OK"
        assert r.cmd("STAT").startswith("+OK 3 ")
        assert r.cmd("QUIT").startswith("+OK")


def test_default_idle_timeout_is_ten_minutes_without_warning(mailroom):
    m = mailroom
    m.start("pop3d")
    with Raw(m.ports["pop3"]) as r:
        assert r.line().startswith("+OK")
        assert not r.closed(timeout=3)
    log = m.logfiles["pop3d"].read_text()
    assert "idle_timeout=600000ms" in log
    assert "event=short-idle-timeout" not in log
