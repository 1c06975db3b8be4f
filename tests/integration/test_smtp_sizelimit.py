"""The largest message smtpd takes can be set from the web panel: the store
setting smtp.message_size_limit (bytes, decimal; written by the settings
page) wins over [smtp] message_size_limit. smtpd reads it at start, at
SIGHUP and every 15 s; SIZE in EHLO and the DATA/BDAT bound follow it."""
import signal
import sqlite3
import time

from smtp_util import Dialog, counts, start_smtpd, wait_for

CONFIG_LIMIT = 200_000


def set_limit(m, value):
    """What the settings page does (webadmin/page_outgoing.c), by hand."""
    with sqlite3.connect(m.db_path, timeout=10) as c:
        if value is None:
            c.execute("DELETE FROM settings WHERE key = 'smtp.message_size_limit'")
        else:
            c.execute("INSERT INTO settings (key, value) VALUES ('smtp.message_size_limit', ?)"
                      " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (value,))


def ehlo_size(m):
    d = Dialog(m.ports["smtp"])
    code, lines = d.cmd("EHLO c.remote.test")
    assert code == 250
    d.expect("QUIT", 221)
    return int(next(l.split()[1] for l in lines if l.startswith("SIZE ")))


def send(m, nbytes):
    """(code, text) of the reply after DATA with a body of about nbytes."""
    d = Dialog(m.ports["smtp"])
    d.open_data("c.remote.test", "a@remote.test", "alice@example.test")
    line = b"x" * 998 + b"\r\n"
    d.send(b"Subject: big\r\n\r\n" + line * (nbytes // len(line) + 1) + b".\r\n")
    code, text = d.reply()
    d.close()
    return code, text


def start(m, **kw):
    m.extra.setdefault("smtp", {})["message_size_limit"] = str(CONFIG_LIMIT)
    return start_smtpd(m, **kw)


def test_setting_wins_at_startup(mailroom):
    set_limit(mailroom, "100000")
    m = start(mailroom)
    assert ehlo_size(m) == 100_000
    assert "event=size-limit size_limit=100000 from=settings" in m.log("smtpd")
    code, text = send(m, 150_000)  # under the config's limit, over the panel's
    assert code == 552 and text[-1].startswith("5.3.4"), (code, text)
    assert counts(m)["mailbox"] == 0
    assert send(m, 50_000)[0] == 250


def test_sighup_raises_limit_then_unset_falls_back(mailroom):
    m = start(mailroom)
    assert ehlo_size(m) == CONFIG_LIMIT
    code, _ = send(m, 400_000)
    assert code == 552
    set_limit(m, "1000000")
    m.procs["smtpd"].send_signal(signal.SIGHUP)
    assert wait_for(lambda: ehlo_size(m) == 1_000_000)
    assert send(m, 400_000)[0] == 250  # now it fits
    code, text = send(m, 1_200_000)
    assert code == 552 and text[-1].startswith("5.3.4")
    # SIZE= on MAIL is checked against the same limit
    d = Dialog(m.ports["smtp"])
    d.expect("EHLO c.remote.test", 250)
    d.expect("MAIL FROM:<a@remote.test> SIZE=1000001", 552, "5.3.4")
    d.expect("MAIL FROM:<a@remote.test> SIZE=999999", 250)
    # the panel's "empty": the config's value again
    set_limit(m, "")
    m.procs["smtpd"].send_signal(signal.SIGHUP)
    assert wait_for(lambda: ehlo_size(m) == CONFIG_LIMIT)


def test_periodic_reread_without_signal(mailroom):
    """The web panel cannot signal smtpd: the change arrives by itself."""
    m = start(mailroom)
    assert ehlo_size(m) == CONFIG_LIMIT
    set_limit(m, "50000")
    t0 = time.monotonic()
    assert wait_for(lambda: ehlo_size(m) == 50_000, timeout=25, step=0.5)
    assert time.monotonic() - t0 < 20
    code, text = send(m, 80_000)
    assert code == 552 and text[-1].startswith("5.3.4")


def test_bad_setting_keeps_config_limit(mailroom):
    set_limit(mailroom, "12abc")
    m = start(mailroom)
    assert ehlo_size(m) == CONFIG_LIMIT
    assert 'event=bad-setting key=smtp.message_size_limit value="12abc"' in m.log("smtpd")
    for bad in ("0", "-5", "99999999999999999999", " 5000"):
        set_limit(m, bad)
        m.procs["smtpd"].send_signal(signal.SIGHUP)
        assert wait_for(lambda: m.log("smtpd").count("event=config-reloaded") >= 1)
        assert ehlo_size(m) == CONFIG_LIMIT, bad
