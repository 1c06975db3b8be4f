"""Third-party checks of the MX port: nmap's smtp-open-relay script tries its
own list of relay tricks (percent hack, bang paths, quoted and IP-literal
recipients, with several senders) and must find none, and testssl finds
no TLS protocol older than 1.2 on the implicit-TLS port."""
import json
import shutil
import subprocess

import pytest

from smtp_util import queue, smtpd  # noqa: F401


@pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap not installed")
def test_nmap_smtp_open_relay_finds_nothing(smtpd):
    r = subprocess.run(
        ["nmap", "-Pn", "-sV", "-p", str(smtpd.ports["smtp"]), "--script", "smtp-open-relay",
         "--script-args", "smtp-open-relay.domain=elsewhere.test,smtp-open-relay.ip=127.0.0.1",
         "127.0.0.1"], capture_output=True, text=True, timeout=240)
    out = r.stdout
    assert "smtp-open-relay" in out, out
    assert "Server is an open relay" not in out, out
    assert "doesn't seem to be an open relay" in out or "Server doesn't seem" in out, out
    assert queue(smtpd) == []


@pytest.mark.skipif(shutil.which("testssl") is None, reason="testssl not installed")
def test_testssl_protocols_on_465(smtpd, tmp_path):
    out = tmp_path / "testssl.json"
    subprocess.run(["testssl", "--quiet", "--protocols", "--jsonfile", str(out),
                    f"127.0.0.1:{smtpd.ports['smtps']}"],
                   capture_output=True, text=True, timeout=300)
    found = {f["id"]: f["finding"] for f in json.loads(out.read_text())}
    for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert "not offered" in found.get(old, "not offered"), (old, found.get(old))
    assert "offered" in found.get("TLS1_2", "") or "offered" in found.get("TLS1_3", "")
