"""DNS blocklists (RFC 5782) through libtrust's resolver against a real
dnsmasq, and greylisting with a real clock (2 s delay) in a real store."""
import time

from test_trust_lib import Zone, run_tool


def test_dnsbl_listed_unlisted_errors(tmp_path):
    zone = {
        # RFC 5782 5: every list answers its test entry 127.0.0.2
        "2.0.0.127.bl-one.test": [("A", "127.0.0.2")],
        "9.2.0.192.bl-two.test": [("A", "127.0.0.4")],
        # an "you may not query us" answer is an error, never a listing
        "9.2.0.192.bl-err.test": [("A", "127.255.255.254")],
        # an answer outside 127/8 is not a listing either
        "7.2.0.192.bl-one.test": [("A", "192.0.2.1")],
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl-one.test":
            [("A", "127.0.0.3")],
        "slow.test": [("TIMEOUT", None)],
    }
    with Zone(zone, tmp_path) as z:
        r = run_tool(z, [
            ["dnsbl", "127.0.0.2", "bl-one.test,bl-two.test"],
            ["dnsbl", "192.0.2.9", "bl-err.test bl-one.test bl-two.test"],
            ["dnsbl", "192.0.2.8", "bl-one.test,bl-two.test"],
            ["dnsbl", "192.0.2.9", "bl-err.test"],
            ["dnsbl", "192.0.2.7", "bl-one.test"],
            ["dnsbl", "2001:db8::1", "bl-one.test"],
            ["dnsbl", "192.0.2.9", "slow.test,bl-two.test"],
        ])
    assert r[0] == {"listed": True, "zone": "bl-one.test", "answer": "127.0.0.2", "errors": 0}
    assert r[1]["listed"] and r[1]["zone"] == "bl-two.test" and r[1]["errors"] == 1
    assert not r[2]["listed"] and r[2]["errors"] == 0
    assert not r[3]["listed"] and r[3]["errors"] == 1
    assert not r[4]["listed"]
    assert r[5]["listed"] and r[5]["answer"] == "127.0.0.3"
    # a list that does not answer costs one timeout, the others still count
    assert r[6]["listed"] and r[6]["zone"] == "bl-two.test" and r[6]["errors"] == 1


def test_greylisting_delays_then_passes(tmp_path):
    db = str(tmp_path / "mailroom.db")
    with Zone({}, tmp_path) as z:
        def grey(ip, sender="news@sender.test", rcpt="bob@example.test"):
            return run_tool(z, [["grey", db, ip, sender, rcpt, "2"]])[0]

        t0 = time.monotonic()
        first = grey("192.0.2.10")
        assert first["verdict"] == "defer" and first["net"] == "192.0.2.0/24"
        again = grey("192.0.2.11")  # same /24: same triple
        if time.monotonic() - t0 < 1.5:  # a loaded machine may take longer
            assert again["verdict"] == "defer" and 0 < again["retry_after"] <= 2
        time.sleep(max(0.0, 2.2 - (time.monotonic() - t0)))
        assert grey("192.0.2.12")["verdict"] == "pass"
        assert grey("192.0.2.10")["verdict"] == "pass"
        # the network retried once: its other triples pass at once
        assert grey("192.0.2.99", "ceo@other.test", "carol@example.test")["verdict"] == "pass"
        # another network is still a stranger
        assert grey("198.51.100.5")["verdict"] == "defer"
