"""mailroomctl as an admin or a reseller's script uses it: every verb, and
every user error as one clear line on stderr with exit status 1."""
import os
import sqlite3
import stat
import subprocess
import threading

import pytest


def one_line_error(r, *words):
    """A user error: exit 1, nothing on stdout, one line on stderr naming the problem."""
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def test_init_makes_private_data_dir_database_and_certificate(mailroom_uninit):
    m = mailroom_uninit
    r = m.ctl("init")
    assert "database" in r.stdout
    st = os.stat(m.data_dir)
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert m.db_path.exists()
    assert m.cert_path.exists()
    key = m.data_dir / "tls" / "key.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) & 0o077 == 0
    # the certificate names the configured hostname
    out = subprocess.run(["openssl", "x509", "-in", str(m.cert_path), "-noout", "-text"],
                         capture_output=True, text=True, check=True).stdout
    assert "DNS:" + m.hostname in out
    # the database is in WAL mode and passes integrity_check
    db = sqlite3.connect(m.db_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    # running it again keeps what exists
    before = m.cert_path.read_bytes()
    r = m.ctl("init")
    assert "kept" in r.stdout
    assert m.cert_path.read_bytes() == before


def test_domain_verbs(mailroom):
    m = mailroom
    r = m.ctl("domain", "add", "Other.Example.TEST")
    assert "other.example.test" in r.stdout
    listed = m.ctl("domain", "list").stdout
    assert "other.example.test\t" in listed and "example.test\t" in listed
    one_line_error(m.ctl("domain", "add", "other.example.test", check=False), "already exists")
    m.ctl("domain", "del", "other.example.test")
    assert "other.example.test" not in m.ctl("domain", "list").stdout
    one_line_error(m.ctl("domain", "del", "other.example.test", check=False), "does not exist")


@pytest.mark.parametrize("bad", ["", "nodot", "x.-lead.example", "trail-.example", "a..b.example", "trailing.example.",
                                 "[127.0.0.1]", "x" * 64 + ".example", "sp ace.example", "a_b.example"])
def test_domain_add_refuses_bad_names(mailroom, bad):
    one_line_error(mailroom.ctl("domain", "add", bad, check=False), "not a valid domain")


def test_domain_del_with_accounts_needs_force(mailroom):
    m = mailroom
    m.add_user("alice@example.test", "correct horse")
    one_line_error(m.ctl("domain", "del", "example.test", check=False), "--force")
    assert "alice@example.test" in m.ctl("user", "list").stdout
    m.ctl("domain", "del", "example.test", "--force")
    assert "alice@example.test" not in m.ctl("user", "list").stdout


def test_user_verbs(mailroom):
    m = mailroom
    r = m.ctl("user", "add", "Alice@Example.test", "--name", "Alice A.", "--quota", "10M",
              input="correct horse\n")
    assert "alice@example.test" in r.stdout
    listed = m.ctl("user", "list").stdout
    line = next(l for l in listed.splitlines() if l.startswith("alice@example.test\t"))
    assert "\tuser\t" in line and "enabled" in line and str(10 * 1024 * 1024) in line
    assert "Alice A." in line
    # the password is stored hashed with yescrypt, never as given
    db = sqlite3.connect(m.db_path)
    (h,) = db.execute("SELECT password_hash FROM accounts WHERE address='alice@example.test'").fetchone()
    db.close()
    assert h.startswith("$y$") and "correct horse" not in h
    m.ctl("user", "set", "alice@example.test", "--disable", "--role", "domain-admin")
    line = next(l for l in m.ctl("user", "list").stdout.splitlines() if l.startswith("alice@"))
    assert "disabled" in line and "domain-admin" in line
    m.ctl("user", "passwd", "alice@example.test", input="another secret\n")
    r = m.ctl("user", "passwd", "alice@example.test", "--random")
    pw = r.stdout.split("password: ")[1].split()[0]
    assert len(pw) >= 16
    m.ctl("user", "del", "alice@example.test")
    assert "alice@" not in m.ctl("user", "list").stdout


def test_user_add_random_prints_password_once(mailroom):
    r = mailroom.ctl("user", "add", "bob@example.test", "--random")
    assert r.stdout.count("password: ") == 1
    assert "bob@example.test" in r.stdout


@pytest.mark.parametrize("args,stdin,words", [
    (["user", "add", "nobody@unknown.test"], "password1\n", ["unknown.test", "does not exist"]),
    (["user", "add", "not-an-address"], "password1\n", ["not a valid address"]),
    (["user", "add", "a%b@example.test"], "password1\n", ["not a valid address"]),
    (["user", "add", '"q"@example.test'], "password1\n", ["not a valid address"]),
    (["user", "add", "x@example.test", "--role", "root"], "password1\n", ["unknown role"]),
    (["user", "add", "x@example.test", "--quota", "lots"], "password1\n", ["bad quota"]),
    (["user", "add", "x@example.test"], "", ["no password"]),
    (["user", "add", "x@example.test"], "\n", ["empty password"]),
    (["user", "add", "x@example.test"], "short\n", ["too short"]),
    (["user", "add", "x@example.test"], "p" * 400 + "\n", ["longer than"]),
    (["user", "add", "x@example.test", "--bogus"], "password1\n", ["unknown option"]),
    (["user", "del", "ghost@example.test"], None, ["does not exist"]),
    (["user", "passwd", "ghost@example.test"], "password1\n", ["does not exist"]),
    (["user", "set", "ghost@example.test", "--disable"], None, ["does not exist"]),
    (["user", "frobnicate", "x@example.test"], None, ["unknown user command"]),
    (["user"], None, ["usage"]),
    (["alias", "add", "sales@nowhere.test", "alice@example.test"], None, ["not local"]),
    (["alias", "add", "sales@example.test"], None, ["usage"]),
    (["alias", "add", "sales@example.test", "bad target"], None, ["not a valid address"]),
    (["alias", "del", "ghost@example.test"], None, ["does not exist"]),
    (["queue", "del", "abc"], None, ["not a queue id"]),
    (["queue", "del", "999"], None, ["does not exist"]),
    (["backup"], None, ["usage"]),
    (["restore", "/nonexistent/file"], None, ["cannot read"]),
    (["frobnicate"], None, ["unknown verb"]),
])
def test_cli_errors_are_one_line(mailroom, args, stdin, words):
    r = mailroom.ctl(*args, input=stdin, check=False)
    one_line_error(r, *words)


def test_user_add_twice_refused(mailroom):
    mailroom.add_user("carol@example.test", "password1")
    r = mailroom.ctl("user", "add", "carol@example.test", input="password2\n", check=False)
    one_line_error(r, "already exists")


def test_alias_verbs_and_catchall(mailroom):
    m = mailroom
    m.add_user("alice@example.test", "password1")
    m.add_user("bob@example.test", "password1")
    m.ctl("alias", "add", "sales@example.test", "alice@example.test", "bob@example.test",
          "partner@elsewhere.test")
    m.ctl("alias", "add", "@example.test", "alice@example.test")
    listed = m.ctl("alias", "list").stdout
    assert "sales@example.test\talice@example.test" in listed
    assert "sales@example.test\tpartner@elsewhere.test" in listed
    assert "@example.test\talice@example.test" in listed
    m.ctl("alias", "del", "sales@example.test", "bob@example.test")
    listed = m.ctl("alias", "list", "example.test").stdout
    assert "sales@example.test\tbob@example.test" not in listed
    m.ctl("alias", "del", "sales@example.test")
    assert "sales@" not in m.ctl("alias", "list").stdout


def test_config_errors_name_file_line_and_key(mailroom_uninit, tmp_path):
    m = mailroom_uninit
    bad = tmp_path / "bad.conf"
    bad.write_text("[server]\nhostname = mail.example.test\n\n[smtp]\nlisen = 127.0.0.1:25\n")
    r = m.ctl("-c", str(bad), "init", config=False, check=False)
    assert one_line_error(r) == f"{bad}:5: unknown key 'lisen' in [smtp]"
    bad.write_text("[smtp]\nmax_recipients = many\n")
    one_line_error(m.ctl("-c", str(bad), "init", config=False, check=False),
                   f"{bad}:2:", "max_recipients")
    bad.write_text("[nonsense]\n")
    one_line_error(m.ctl("-c", str(bad), "init", config=False, check=False), f"{bad}:1:", "nonsense")
    missing = tmp_path / "missing.conf"
    one_line_error(m.ctl("-c", str(missing), "domain", "list", config=False, check=False), str(missing))


def test_verbs_before_init_say_so(mailroom_uninit):
    one_line_error(mailroom_uninit.ctl("domain", "list", check=False), "init")


def test_backup_under_write_load_passes_integrity_check(mailroom, tmp_path):
    m = mailroom
    stop = threading.Event()
    errors = []

    def writer():
        i = 0
        while not stop.is_set():
            r = m.ctl("domain", "add", f"load{i}.example.test", check=False)
            if r.returncode != 0:
                errors.append(r.stderr)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        backups = []
        for n in range(5):
            b = tmp_path / f"backup{n}.db"
            m.ctl("backup", str(b))
            backups.append(b)
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    for b in backups:
        db = sqlite3.connect(b)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM domains WHERE name='example.test'").fetchone()[0] == 1
        db.close()
    one_line_error(m.ctl("backup", str(backups[0]), check=False), "exists")


def test_restore_brings_back_accounts(mailroom, tmp_path):
    m = mailroom
    m.add_user("keep@example.test", "password1")
    b = tmp_path / "b.db"
    m.ctl("backup", str(b))
    m.ctl("user", "del", "keep@example.test")
    assert "keep@" not in m.ctl("user", "list").stdout
    m.ctl("restore", str(b))
    assert "keep@example.test" in m.ctl("user", "list").stdout
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    one_line_error(m.ctl("restore", str(garbage), check=False), "restore")
    assert "keep@example.test" in m.ctl("user", "list").stdout
