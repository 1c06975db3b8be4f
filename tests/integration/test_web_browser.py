"""A new admin in real headless Chromium (playwright-core, Debian chromium):
first-run setup, a domain and three employees created through the forms in
under two minutes, phone-sized pages, the smarthost/size limit and mail
checks set through their forms (and found in the store), the DNS page's DKIM
advice and the message trace page, then an employee logs in and uses the
password set in the browser for POP3 (and SMTP when smtpd runs).
Screenshots land in tests/browser/shots/ (git-ignored)."""
import json
import os
import pathlib
import poplib
import shutil
import sqlite3
import smtplib
import ssl
import subprocess

import pytest

from conftest import REPO

BROWSER_DIR = REPO / "tests" / "browser"
SHOTS = BROWSER_DIR / "shots"


def ensure_playwright():
    if shutil.which("node") is None or not os.path.exists("/usr/bin/chromium"):
        pytest.skip("node or /usr/bin/chromium missing (make deps installs them)")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            pytest.fail("npm ci (playwright-core, pinned in tests/browser/package-lock.json) "
                        f"failed:\n{r.stdout}{r.stderr}")


def test_new_admin_in_chromium(mailroom):
    ensure_playwright()
    m = mailroom
    m.start("webadmin")
    r = subprocess.run(["node", "admin.mjs", f"https://127.0.0.1:{m.ports['admin']}",
                        str(SHOTS)], cwd=BROWSER_DIR, capture_output=True, text=True,
                       timeout=240)
    lines = r.stdout.strip().splitlines()
    assert lines, r.stderr
    result = json.loads(lines[-1])
    assert r.returncode == 0 and result["ok"], result.get("error", r.stderr)
    print("browser steps:", result["steps"])
    # the figure: a domain and three accounts in under two minutes
    assert result["elapsed_ms"] < 120_000
    for shot in ("01-setup", "02-dns", "04-accounts", "05-accounts-phone", "08-employee-me",
                 "09-settings-outgoing", "10-mail-checks", "11-trace"):
        assert (SHOTS / f"{shot}.png").stat().st_size > 5000
    # what the browser set on the Settings and Mail checks pages is in the store
    with sqlite3.connect(m.db_path, timeout=10) as c:
        got = dict(c.execute("SELECT key, value FROM settings WHERE key IN ("
                             "'smarthost.host', 'smarthost.user', 'smarthost.password', "
                             "'smtp.message_size_limit', 'trust.dnsbl_zones', "
                             "'trust.greylist_domains', 'trust.dkim')"))
    assert got == {"smarthost.host": "smtp.provider.test:587",
                   "smarthost.user": "office@provider.test",
                   "smarthost.password": "Relay-secret-9",
                   "smtp.message_size_limit": str(10 * 1024 * 1024),
                   "trust.dnsbl_zones": "bl.example", "trust.greylist_domains": "firma.test",
                   "trust.dkim": "no"}

    users = m.ctl("user", "list").stdout
    for e in result["employees"]:
        assert e["address"] in users

    # the employee's password from the browser works for mail too
    anna = result["employees"][0]
    try:
        m.start("pop3d")
    except Exception as exc:  # pop3d is another room's; say why when it is absent
        pytest.skip(f"pop3d not available: {exc}")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p = poplib.POP3_SSL("127.0.0.1", m.ports["pop3s"], context=ctx, timeout=10)
    p.user(anna["address"])
    p.pass_(anna["password"])
    assert p.stat()[0] == 0
    p.quit()
    try:
        m.start("smtpd")
    except Exception as exc:
        pytest.skip(f"smtpd not available: {exc}")
    with smtplib.SMTP_SSL("127.0.0.1", m.ports["smtps"], context=ctx, timeout=10) as s:
        s.login(anna["address"], anna["password"])
        s.sendmail(anna["address"], [result["employees"][1]["address"]],
                   f"From: {anna['address']}\r\nSubject: hi\r\n\r\nfrom the browser test\r\n")
    ben = result["employees"][1]
    p = poplib.POP3_SSL("127.0.0.1", m.ports["pop3s"], context=ctx, timeout=10)
    p.user(ben["address"])
    p.pass_(ben["password"])
    body = b"\n".join(p.retr(1)[1])
    p.quit()
    assert b"from the browser test" in body
