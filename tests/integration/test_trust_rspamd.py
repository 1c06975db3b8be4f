"""mailroom-smtpd asking rspamd instead of SpamAssassin: trust.spamd speaks
the SPAMC/1.5 protocol, which rspamd's normal worker also answers (in
SpamAssassin's reply format), so an admin who runs rspamd puts its address
in the same setting. The real rspamd of Debian's rspamd package, started
here on a loopback port with its shipped rules; real SMTP clients
(smtplib), the stored messages read back through mailroom-pop3d, the trace
rows from the store.

- a GTUBE message: rspamd's score becomes the message's score, SPAMD and
  rspamd's GTUBE symbol are in X-Spam-Status, X-Spam-Flag and the subject
  tag are set, the trace row says tagged and spamd=SCORE/REQUIRED with
  rspamd's own numbers (read from rspamd's log);
- a clean message: rspamd's score (from its log) in X-Spam-Score and in the
  trace row, no flag, no tag.

rspamd is kept off the network: every DNS lookup goes to 127.0.0.1:1 (a
closed port: refused at once) and the fuzzy-hash module, which resolves
rspamd.com's servers through the system resolver at start, is off; the
controller, proxy and fuzzy workers are not started.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import free_port, stop_process
from test_smtp_trust import pop_all
from test_trust_spamd import GTUBE, exchange, field, head, message, send, start, trace_rows

RSPAMD = shutil.which("rspamd") or "/usr/bin/rspamd"

pytestmark = pytest.mark.skipif(not os.path.exists(RSPAMD),
                                reason="Debian package rspamd not installed (make deps)")

# rspamd's own per-message log line (info level), e.g.
# "(default: T (reject): [15.00/15.00] [GTUBE(0.00){}, ...]"
TASK_RE = re.compile(r"\(default: ([TFS]) \(([a-z ]+)\): \[(-?[\d.]+)/(-?[\d.]+)\] \[([^\]]*)\]")


class Rspamd:
    """Debian's rspamd with the packaged /etc/rspamd config and our
    local.d / override.d beside it (--var LOCAL_CONFDIR)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailroom-rspamd-")
        self.port = free_port()
        for sub in ("local.d", "override.d", "db", "run", "log"):
            os.makedirs(os.path.join(self.dir, sub))
        files = {
            "override.d/worker-normal.inc":
                f'bind_socket = "127.0.0.1:{self.port}";\ncount = 1;\n',
            "override.d/worker-controller.inc": "enabled = false;\n",
            "override.d/worker-proxy.inc": "enabled = false;\n",
            "override.d/worker-fuzzy.inc": "enabled = false;\n",
            "override.d/logging.inc": 'type = "file";\nfilename = "$LOGDIR/rspamd.log";\n'
                                      'level = "info";\n',
            "local.d/options.inc": 'dns {\n  nameserver = ["127.0.0.1:1"];\n'
                                   '  timeout = 0.2s;\n  retransmits = 1;\n}\n',
            "local.d/fuzzy_check.conf": "enabled = false;\n",
        }
        for name, text in files.items():
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        self.logpath = os.path.join(self.dir, "log", "rspamd.log")
        self.proc = None

    def start(self):
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        group = subprocess.run(["id", "-gn"], capture_output=True, text=True).stdout.strip()
        cmd = [RSPAMD, "-f", "-i", "-u", user, "-g", group, "-c", "/etc/rspamd/rspamd.conf",
               f"--var=LOCAL_CONFDIR={self.dir}", f"--var=DBDIR={self.dir}/db",
               f"--var=RUNDIR={self.dir}/run", f"--var=LOGDIR={self.dir}/log"]
        out = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=out)
        deadline = time.monotonic() + 120  # it compiles its rules first
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rspamd exited:\n" + self.log()[-3000:])
            try:
                if b"pong" in exchange(self.port, b"GET /ping HTTP/1.0\r\n\r\n", 5):
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("rspamd did not answer /ping:\n" + self.log()[-3000:])

    def log(self):
        text = ""
        for name in ("log/rspamd.log", "stdout.log"):
            try:
                text += open(os.path.join(self.dir, name), errors="replace").read()
            except OSError:
                pass
        return text

    def tasks(self):
        """rspamd's verdict lines: (spam flag, action, score, required, symbols)."""
        return [(m.group(1), m.group(2), float(m.group(3)), float(m.group(4)), m.group(5))
                for m in TASK_RE.finditer(self.log())]

    def wait_tasks(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.tasks()) <= n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.tasks()

    def close(self):
        stop_process(self.proc, 20)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def rspamd():
    r = Rspamd().start()
    yield r
    r.close()


def deliver(m, rspamd, msg):
    """msg sent to the MX with rspamd set: (the stored message, its header
    section, rspamd's own verdict line for it)."""
    start(m, spamd=f"127.0.0.1:{rspamd.port}", spam_subject_tag="[SPAM]")
    n_before = len(rspamd.tasks())
    code, text, _ = send(m, msg)
    assert code == 250, text
    got = pop_all(m)
    assert len(got) == 1
    tasks = rspamd.wait_tasks(n_before)[n_before:]
    assert len(tasks) == 1, rspamd.log()[-3000:]
    return got[0], head(got[0]), tasks[0]


def test_gtube_is_tagged_spam_by_rspamd(mailroom, rspamd):
    body = f"This is the GTUBE test.\r\n\r\n{GTUBE}\r\n"
    stored, h, task = deliver(mailroom, rspamd, message("Cheap offer", body))
    _, action, score, required, symbols = task
    assert action == "reject" and "GTUBE" in symbols  # rspamd's own verdict
    assert field(h, "X-Spam-Flag") == "YES"
    assert field(h, "Subject") == "[SPAM] Cheap offer"
    status = field(h, "X-Spam-Status")
    assert status.startswith(f"Yes, score={score:.1f} required=5.0 "), status
    tests = status.split("tests=", 1)[1].replace(" ", "").split(",")
    assert "SPAMD" in tests and "GTUBE" in tests, status
    assert GTUBE.encode() in stored  # the message itself is untouched
    row = trace_rows(mailroom, 1)[0]
    assert row["outcome"] == "tagged" and row["spam_score"] == round(score * 10)
    assert f"spamd={score:.1f}/{required:.1f}" in row["details"], row
    assert "spamd-unavailable" not in mailroom.log("smtpd")


def test_clean_message_carries_rspamds_score(mailroom, rspamd):
    _, h, task = deliver(mailroom, rspamd, message())
    flag, action, score, required, _ = task
    assert flag == "F" and action == "no action" and score < 5.0
    status = field(h, "X-Spam-Status")
    assert status.startswith(f"No, score={score:.1f} required=5.0 tests="), status
    assert "SPAMD" in status.split("tests=", 1)[1]
    assert field(h, "X-Spam-Score") == f"{score:.1f}"
    assert "X-Spam-Flag" not in h and field(h, "Subject") == "Lunch"
    row = trace_rows(mailroom, 1)[0]
    assert row["outcome"] == "accepted"
    assert f"spamd={score:.1f}/{required:.1f}" in row["details"], row
