"""Helpers for the POP3 integration tests: filling mailboxes through the
store's own delivery call (tests/tools/mr-deliver.c), a raw line-level
POP3 client for dialogues poplib cannot script (pipelining, over-long
lines, a chosen source address), and process memory readings."""
import pathlib
import poplib
import socket
import ssl
import subprocess
import tempfile

from conftest import BUILD, REPO
from sockutil import RawSocket, wait_for  # noqa: F401 (wait_for: re-exported)

PASSWORD = "correct horse 1"
USER = "bob@example.test"


def _deliver_binary():
    """Build mr-deliver against the same libstore as the daemons under test."""
    src = REPO / "tests" / "tools" / "mr-deliver.c"
    out = BUILD / "mr-deliver"
    libs = [BUILD / "libstore.a", BUILD / "libcommon.a"]
    if out.exists() and out.stat().st_mtime >= max(p.stat().st_mtime for p in [src, *libs]):
        return out
    flags = subprocess.run(["pkg-config", "--libs", "sqlite3", "libcrypt", "openssl"],
                           capture_output=True, text=True, check=True).stdout.split()
    san = ["-fsanitize=address,undefined"] if "asan" in str(BUILD) else []
    subprocess.run(["cc", "-std=c11", "-O1", "-g", *san, "-o", str(out), str(src),
                    *map(str, libs), *flags], check=True)
    return out


def deliver(m, address, *messages):
    """Deliver each message (bytes, CRLF line ends) to address's mailbox."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, msg in enumerate(messages):
            p = pathlib.Path(d) / f"m{i}"
            p.write_bytes(msg)
            paths.append(str(p))
        subprocess.run([str(_deliver_binary()), str(m.db_path), address, *paths],
                       check=True, capture_output=True, timeout=300)


def generate(m, address, count, size):
    """count distinct generated messages of exactly size octets."""
    subprocess.run([str(_deliver_binary()), str(m.db_path), address, "--generate",
                    str(count), str(size)], check=True, capture_output=True, timeout=600)


def message(subject, body_lines=("hello",), extra_headers=()):
    head = [f"From: alice@remote.test", f"To: {USER}", f"Subject: {subject}", *extra_headers]
    return ("\r\n".join(head) + "\r\n\r\n" + "".join(l + "\r\n" for l in body_lines)).encode()


def insecure_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Raw(RawSocket):
    """A line-level POP3 client over a real socket (optionally from a chosen
    source address, optionally TLS) that sends exactly the bytes given."""

    def __init__(self, port, host="127.0.0.1", source=None, tls=False, timeout=10):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        if tls:
            self.sock = insecure_context().wrap_socket(self.sock)
        self.buf = b""

    def starttls(self):
        self.sock = insecure_context().wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed; pending {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def until(self, end=b"\r\n.\r\n"):
        """Raw bytes up to and including end (for byte-exact checks)."""
        while end not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed; pending {self.buf[:200]!r}")
            self.buf += chunk
        i = self.buf.index(end) + len(end)
        data, self.buf = self.buf[:i], self.buf[i:]
        return data

    def multi(self):
        """The lines of a multi-line answer after its status line, unstuffed."""
        out = []
        while True:
            l = self.line()
            if l == ".":
                return out
            out.append(l[1:] if l.startswith(".") else l)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()


def login(port, user=USER, password=PASSWORD, **kw):
    r = Raw(port, **kw)
    assert r.line().startswith("+OK")
    assert r.cmd(f"USER {user}").startswith("+OK")
    reply = r.cmd(f"PASS {password}")
    assert reply.startswith("+OK"), reply
    return r


def start_pop3d(m, *messages):
    """USER's account holding messages and mailroom-pop3d started: the
    fixture of every POP3 suite."""
    m.add_user(USER, PASSWORD)
    deliver(m, USER, *messages)
    m.start("pop3d")
    return m


def pop3_client(m, timeout=10):
    """poplib on m's plain POP3 port, logged in as USER with USER/PASS."""
    p = poplib.POP3("127.0.0.1", m.ports["pop3"], timeout=timeout)
    p.user(USER)
    p.pass_(PASSWORD)
    return p


def stall_report(pid, port):
    """When a client gets nothing for a while: the octets the kernel still
    holds on the server's side of the connections to port (ss's Send-Q: more
    than 0 means the server did write and TCP has not delivered yet; 0 while
    an answer is unfinished means the server stopped writing), and a report
    of both ends' TCP state and the server's threads for the failure text."""
    ss = subprocess.run(["ss", "-tnH", "state", "established", f"( sport = :{port} )"],
                        capture_output=True, text=True).stdout
    queued = sum(int(l.split()[1]) for l in ss.splitlines() if l.strip())
    detail = subprocess.run(["ss", "-tinmH", f"( sport = :{port} or dport = :{port} )"],
                            capture_output=True, text=True).stdout
    threads = []
    for t in sorted(pathlib.Path(f"/proc/{pid}/task").iterdir()):
        state = next((l for l in (t / "status").read_text().splitlines()
                      if l.startswith("State:")), "State: ?")
        threads.append(f"{t.name} {state} wchan={(t / 'wchan').read_text()}")
    return queued, f"server Send-Q {queued}\n{detail}\n" + "\n".join(threads)


def rss_kb(pid, field="VmRSS"):
    for l in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if l.startswith(field + ":"):
            return int(l.split()[1])
    raise KeyError(field)
