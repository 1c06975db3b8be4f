"""The source check (tests/check-src.sh, issue 8 item 10) must be able to
fail: each banned construct in a scratch file makes it exit 1, and the tree
itself passes."""
import pathlib
import subprocess

import pytest

from mailroom_harness import REPO

BAD = {
    "system": 'void f(void){ system("ls"); }',
    "popen": 'void f(void){ popen("ls", "r"); }',
    "sprintf": 'void f(char *b){ sprintf(b, "%d", 1); }',
    "vsprintf": 'void f(char *b, va_list a){ vsprintf(b, "%d", a); }',
    "strcpy": 'void f(char *b){ strcpy(b, "x"); }',
    "strcat": 'void f(char *b){ strcat (b, "x"); }',
    "gets": 'void f(char *b){ gets(b); }',
    "atoi": 'int f(const char *b){ return atoi(b); }',
    "sql-snprintf": 'void f(char *b, const char *u){ snprintf(b, 99, "SELECT id FROM accounts WHERE address = \'%s\'", u); }',
    "sql-literal-fmt": 'static const char *q = "DELETE FROM mailbox WHERE uid = %d";',
    "sql-mprintf": 'void f(const char *u){ sqlite3_mprintf("SELECT %q", u); }',
    "exec": 'void f(void){ execvp("sh", 0); }',
    "percent-n": 'void f(char *b){ snprintf(b, 9, "%n", 0); }',
    "sql-outside-store": 'void f(sqlite3 *d){ sqlite3_exec(d, "x", 0, 0, 0); }',
}


def run(files):
    return subprocess.run(["sh", str(REPO / "tests" / "check-src.sh")], capture_output=True,
                          text=True, env={"CHECK_SRC_FILES": " ".join(files), "PATH": "/usr/bin:/bin"})


def test_tree_passes():
    r = subprocess.run(["sh", str(REPO / "tests" / "check-src.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", list(BAD))
def test_each_banned_construct_fails(name, tmp_path):
    # a path outside tests/ and store/, as a daemon room's file would be
    d = tmp_path / "smtpd"
    d.mkdir()
    f = d / "bad.c"
    f.write_text(BAD[name] + "\n")
    r = subprocess.run(["sh", str(REPO / "tests" / "check-src.sh")], capture_output=True,
                       text=True, cwd=tmp_path,
                       env={"CHECK_SRC_FILES": str(f), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 1, (name, r.stdout, r.stderr)


def test_safe_code_passes(tmp_path):
    f = tmp_path / "ok.c"
    f.write_text('void f(char *b, sqlite3_stmt *s){ snprintf(b, 9, "%d", 1); '
                 'fgets(b, 9, stdin); sqlite3_bind_text(s, 1, b, -1, 0); }\n'
                 'static const char *q = "PRAGMA user_version = %d";\n')
    r = subprocess.run(["sh", str(REPO / "tests" / "check-src.sh")], capture_output=True,
                       text=True, env={"CHECK_SRC_FILES": str(f), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stdout + r.stderr
