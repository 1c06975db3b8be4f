"""A tiny HTTPS client for the webadmin tests (no test functions here).

`Web` keeps cookies like a browser (it honours Max-Age=0 deletions), finds
the CSRF token in a page's form, and can log in. Every request is a fresh
http.client connection over TLS to 127.0.0.1 with verification off (the
test certificate is self-signed)."""
import http.client
import json as jsonlib
import re
import socket
import ssl
import urllib.parse


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return jsonlib.loads(self.body)

    def header(self, name):
        return self.headers.get(name)

    def cookies(self):
        return self.headers.get_all("Set-Cookie") or []

    def __repr__(self):
        return f"<Response {self.status} {self.text[:300]!r}>"


CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


class Web:
    def __init__(self, port):
        self.port = port
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=tls_context(),
                                           timeout=20)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        r = Response(resp.status, resp.headers, data)
        for c in r.cookies():
            name, _, rest = c.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in c:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post(self, path, fields, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.request("POST", path, urllib.parse.urlencode(fields), h)

    def csrf(self, page):
        r = self.get(page)
        m = CSRF_RE.search(r.text)
        assert m, f"no csrf token on {page}: {r}"
        return m.group(1)

    def submit(self, page, action, fields):
        """Load page, take its CSRF token, post fields to action."""
        token = self.csrf(page)
        return self.post(action, {**fields, "csrf": token})

    def login(self, address, password):
        return self.submit("/login", "/login", {"address": address, "password": password})

    def api(self, method, path, token=None, body=None, headers=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = jsonlib.dumps(body)
            h.setdefault("Content-Type", "application/json")
        saved, self.cookies = self.cookies, {}
        try:
            return self.request(method, "/api/v1" + path, data, h)
        finally:
            self.cookies = saved


ADMIN = "admin@example.test"
ADMIN_PW = "admin-pw-1"


def admin_web(m, password=ADMIN_PW):
    """An admin account, mailroom-webadmin started and a Web logged in as that
    admin (the login answered 303): the start of every admin page test."""
    m.add_user(ADMIN, password, role="admin")
    m.start("webadmin")
    w = Web(m.ports["admin"])
    assert w.login(ADMIN, password).status == 303
    return w


def raw_https(port, data, timeout=10):
    """Send raw bytes over TLS and return everything the server sends back."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with tls_context().wrap_socket(raw) as s:
            s.sendall(data)
            out = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            except (socket.timeout, ssl.SSLError, ConnectionResetError):
                pass
            return out
