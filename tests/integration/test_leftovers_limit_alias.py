"""The per-account hourly send limit counts mail that a logged-in user sends
with one of their aliases (or through the domain's catch-all) as the
envelope sender against the account the alias delivers to: a stolen
password cannot get round the brake by sending as sales@. Suspending holds
the alias's rows too; enabling the account sends them, also after a
restart of mailroom-queued."""
import time

from smtp_util import submission, wait_for
from test_outbound import ALICE, out, queue_rows, submit  # noqa: F401
from test_outbound_limit import ids, limited, login_works, send_as  # noqa: F401

SALES = "sales@example.test"


def suspended(m):
    return "event=account-suspended account=alice@example.test" in m.log("queued")


def test_alias_sender_counts_against_the_account(limited):
    m = limited
    m.ctl("alias", "add", SALES, ALICE)
    m.start("queued")
    send_as(m, SALES, 8, "alias burst")
    assert wait_for(lambda: suspended(m), 20), m.log("queued")
    assert wait_for(lambda: len(queue_rows(m)) + len(ids(m.remote)) == 8, 10)
    time.sleep(2)  # more queue runs: nothing else leaves
    sent = len(ids(m.remote))
    assert sent <= 5, m.log("queued")
    held = queue_rows(m)
    assert len(held) == 8 - sent > 0
    assert all(r[0] == SALES and r[4].startswith("held: account suspended") and
               "user set alice@example.test --enable" in r[4] for r in held), held
    assert not login_works(m)
    m.ctl("user", "set", ALICE, "--enable")
    assert wait_for(lambda: len(ids(m.remote)) == 8, 20), m.log("queued")
    assert wait_for(lambda: queue_rows(m) == [], 10)
    line = next(l for l in m.log("queued").splitlines() if "event=account-released" in l)
    assert f"released={8 - sent}" in line, line
    assert len(m.remote.messages()) == 8  # none twice


def test_own_address_and_alias_add_up(limited):
    m = limited
    m.ctl("alias", "add", SALES, ALICE)
    m.start("queued")
    send_as(m, ALICE, 3, "own")
    assert wait_for(lambda: len(ids(m.remote)) == 3 and queue_rows(m) == [], 15), m.log("queued")
    assert not suspended(m)
    send_as(m, SALES, 3, "alias", start=3)  # 6 in the hour > 5
    assert wait_for(lambda: suspended(m), 20), m.log("queued")
    line = next(l for l in m.log("queued").splitlines() if "event=account-suspended" in l)
    assert " sent=6 " in line, line


def test_catch_all_sender_counts_too(limited):
    m = limited
    m.ctl("alias", "add", "@example.test", ALICE)  # the domain's catch-all
    m.start("queued")
    send_as(m, "anything@example.test", 7, "catch-all")
    assert wait_for(lambda: suspended(m), 20), m.log("queued")
    time.sleep(2)
    assert len(ids(m.remote)) <= 5


def suspend_then_stop_queued(m, sender, tag):
    """sales@ made alice's alias, 8 messages sent as sender: queued
    suspends alice (limit 5), every row is either out or held, and queued
    is stopped."""
    m.ctl("alias", "add", SALES, ALICE)
    m.start("queued")
    send_as(m, sender, 8, tag)
    assert wait_for(lambda: suspended(m), 20), m.log("queued")
    assert wait_for(lambda: len(queue_rows(m)) + len(ids(m.remote)) == 8, 10)
    m.stop("queued")


def test_alias_rows_held_across_a_restart_are_released(limited):
    m = limited
    suspend_then_stop_queued(m, SALES, "before restart")
    sent = len(ids(m.remote))
    m.start("queued")
    time.sleep(2)
    assert len(ids(m.remote)) == sent  # still held after the restart
    m.ctl("user", "set", ALICE, "--enable")
    assert wait_for(lambda: len(ids(m.remote)) == 8, 20), m.log("queued")
    assert wait_for(lambda: queue_rows(m) == [], 10)
    # the new process found the held alias rows in the queue, not in memory
    assert f"event=account-released account=alice@example.test released={8 - sent}" \
        in m.log("queued"), m.log("queued")


def test_alias_of_another_account_is_not_alices(limited):
    """bob's alias counts against bob, not alice (limit 5 each)."""
    m = limited
    m.ctl("alias", "add", "help@example.test", "bob@example.test")
    m.start("queued")
    send_as(m, ALICE, 4, "alice")
    with submission(m, "bob@example.test") as s:
        for i in range(4):
            s.sendmail("help@example.test", [f"x{i}@remote.test"],
                       f"Subject: bob {i}\r\n\r\nhi\r\n".encode())
    assert wait_for(lambda: len(ids(m.remote)) == 8 and queue_rows(m) == [], 20), m.log("queued")
    assert "event=account-suspended" not in m.log("queued")


def test_alias_first_seen_after_the_suspension_is_held(limited):
    """Rows sent as an alias that mailroom-queued meets for the first time
    while the alias's owner is suspended (and so disabled) are the owner's:
    held, not sent. Here they were queued while queued was down and the
    admin had briefly enabled alice."""
    m = limited
    suspend_then_stop_queued(m, ALICE, "own")
    sent = ids(m.remote)
    m.ctl("user", "set", ALICE, "--enable")
    send_as(m, SALES, 2, "alias", start=100)
    m.ctl("user", "set", ALICE, "--disable")
    m.start("queued")
    time.sleep(3)
    assert ids(m.remote) == sent, m.log("queued")
    held = [r for r in queue_rows(m) if r[0] == SALES]
    assert len(held) == 2 and all("suspended" in (r[4] or "") for r in held), held
    assert not login_works(m)
