"""Settings (server name, public address), API tokens made and revoked in
the panel, the backup download, creating accounts from CSV, and the
reseller's branding (name, support line, logo)."""
import re
import sqlite3
import struct
import zlib

import pytest

from test_web_client import Web, admin_web as admin


def test_settings_change_what_dns_and_autoconfig_use(mailroom):
    m = mailroom
    w = admin(m)
    r = w.submit("/settings", "/settings", {"hostname": "MX.Example.test",
                                            "public_ip": "not-an-ip"})
    assert "IPv4 address" in w.get("/settings").text
    r = w.submit("/settings", "/settings", {"hostname": "MX.Example.test",
                                            "public_ip": "192.0.2.7"})
    assert r.status == 303 and "Settings saved." in w.get("/settings").text
    assert "<hostname>mx.example.test</hostname>" in w.get("/mail/config-v1.1.xml").text
    dns = w.get("/dns").text
    assert "192.0.2.7" in dns and "10 mx.example.test" in dns
    assert "settings" in w.get("/audit").text


def test_tokens_made_and_revoked_in_the_panel(mailroom):
    m = mailroom
    w = admin(m)
    r = w.submit("/settings", "/settings/token-add", {"name": "billing"})
    assert r.status == 303
    page = w.get("/settings").text
    token = re.search(r"Token billing created: (mrt_[0-9a-f]{64})", page).group(1)
    assert token not in w.get("/settings").text  # shown once
    assert w.api("GET", "/domains", token).status == 200
    assert "billing" in m.ctl("token", "list").stdout
    r = w.submit("/settings", "/settings/token-del", {"name": "billing"})
    assert r.status == 303
    assert w.api("GET", "/domains", token).status == 401
    # a user cannot make tokens
    m.add_user("u@example.test", "user-pw-12")
    u = Web(w.port)
    assert u.login("u@example.test", "user-pw-12").status == 303
    r = u.post("/settings/token-add", {"name": "x", "csrf": u.csrf("/me")})
    assert r.status == 403


def test_backup_download_is_a_whole_database(mailroom, tmp_path):
    m = mailroom
    w = admin(m)
    m.add_user("keep@example.test", "keep-pw-12")
    r = w.submit("/settings", "/settings/backup", {})
    assert r.status == 200
    assert r.header("Content-Disposition").startswith("attachment; filename=\"mailroom-")
    assert r.body[:16] == b"SQLite format 3\x00"
    path = tmp_path / "dl.db"
    path.write_bytes(r.body)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    addrs = [row[0] for row in db.execute("SELECT address FROM accounts")]
    assert "keep@example.test" in addrs
    db.close()
    assert not list((m.data_dir).glob(".webadmin-backup-*"))
    # GET does nothing, and without the CSRF token there is no backup
    assert w.get("/settings/backup").status == 405
    assert w.post("/settings/backup", {}).status == 403


def test_accounts_from_csv(mailroom):
    m = mailroom
    w = admin(m)
    csv = ("address,name,quota,password\r\n"
           "anna@example.test, Anna Berg, 200, anna-pw-123\r\n"
           "\"ben@example.test\",\"Ortiz, Ben\",,\r\n"
           "\r\n"
           "not an address,x\r\n"
           "anna@example.test,dup\r\n"
           "carl@nowhere.test,Carl\r\n"
           "dora@example.test,Dora,lots\r\n")
    r = w.submit("/accounts/import", "/accounts/import", {"csv": csv})
    assert r.status == 200
    rows = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>",
                      r.text)
    by_line = {int(n): (a, res, pw) for n, a, res, pw in rows}
    assert "created" in by_line[2][1] and "(as given)" in by_line[2][2]
    assert "created" in by_line[3][1]
    ben_pw = re.search(r"<code>(\w{16})</code>", by_line[3][2]).group(1)
    assert "not an email address" in by_line[5][1]
    assert "already exists" in by_line[6][1]
    assert "not one of ours" in by_line[7][1] or "not a domain" in by_line[7][1]
    assert "whole number" in by_line[8][1]
    assert "2 created, 4 not created" in r.text
    acct = w.api  # noqa: F841 (readability)
    assert Web(w.port).login("ben@example.test", ben_pw).status == 303
    listing = w.get("/accounts").text
    assert "Ortiz, Ben" in listing and "200.0 MB" in listing


def test_reseller_branding_is_shown_escaped(mailroom):
    m = mailroom
    db = sqlite3.connect(m.db_path)
    db.execute("INSERT INTO settings (key, value) VALUES ('branding.product_name', "
               "'Acme <Mail>'), ('branding.support', 'call 555-0100')")
    db.commit()
    db.close()
    w = admin(m)
    page = w.get("/").text
    assert '<a class="brand" href="/">Acme &lt;Mail&gt;</a>' in page
    assert "Help: call 555-0100" in page and "<Mail>" not in page


def tiny_png():
    """A real 1x1 PNG, made here (signature, IHDR, IDAT, IEND)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x1f\x5f\xbf"))
            + chunk(b"IEND", b""))


def set_logo(m, path):
    db = sqlite3.connect(m.db_path)
    db.execute("INSERT INTO settings (key, value) VALUES ('branding.logo', ?)", (str(path),))
    db.commit()
    db.close()


def test_reseller_logo_is_shown_and_served(mailroom, tmp_path):
    """A preseeded branding.logo (an image file on the box) is shown beside
    the product name on every page, the login page too, and served as it
    is at /branding/logo to anyone (the login page needs it)."""
    m = mailroom
    png = tiny_png()
    logo = tmp_path / "logo.png"
    logo.write_bytes(png)
    set_logo(m, logo)
    w = admin(m)
    assert '<a class="brand" href="/"><img src="/branding/logo" alt="">Mailroom</a>' \
        in w.get("/").text
    anon = Web(m.ports["admin"])
    assert '<img src="/branding/logo" alt="">' in anon.get("/login").text
    r = anon.get("/branding/logo")
    assert r.status == 200 and r.body == png
    assert r.header("Content-Type") == "image/png"
    assert r.header("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("content", [
    b"root:secret-hash:19000:0:99999:7:::\n",  # any file: not an image
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
])
def test_logo_that_is_not_a_served_image_is_not_shown(mailroom, tmp_path, content):
    """branding.logo pointing at a file that is not a PNG, JPEG, GIF or WebP
    (another file on the box, or an SVG, which could run script when opened
    on its own): not shown, and /branding/logo answers 404 without its bytes."""
    m = mailroom
    f = tmp_path / "not-a-logo"
    f.write_bytes(content)
    set_logo(m, f)
    w = admin(m)
    assert "/branding/logo" not in w.get("/").text
    r = Web(m.ports["admin"]).get("/branding/logo")
    assert r.status == 404 and content not in r.body


def test_panel_says_when_its_server_name_is_not_the_mail_servers(mailroom):
    """The panel's Server name (DNS page, mail program setup) and the name
    the daemons use ([server] hostname: greeting, Received, outbound EHLO)
    are two settings; when they differ the Settings and DNS pages say so
    and what to change, and say nothing once they agree."""
    m = mailroom
    w = admin(m)
    cfg_name = m.hostname  # the test config's [server] hostname
    w.submit("/settings", "/settings", {"hostname": "mx.other.test", "public_ip": ""})
    for page in ("/settings", "/dns"):
        text = w.get(page).text
        assert 'id="hostname-differs"' in text, page
        assert f"<b>{cfg_name}</b>" in text and "<code>hostname = mx.other.test</code>" in text
        assert str(m.cfg_path) in text
    w.submit("/settings", "/settings", {"hostname": cfg_name.upper(), "public_ip": ""})
    for page in ("/settings", "/dns"):
        assert 'id="hostname-differs"' not in w.get(page).text, page
