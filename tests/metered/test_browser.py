"""The metered service as a person uses it: the client app's pages in headless Chromium, traffic
through the router's proxy from a local file server, every transaction judged by the node.

Screenshots of the login page and of the live view are saved (to ``$TMPDIR/btcmicro-screenshots``, or to
``METERED_SCREENSHOTS``: set it to docs/img to refresh the images of docs/metered.md).
"""
from __future__ import annotations

import threading
import time

import pytest
from playwright.sync_api import expect

from btcmicro.node.rpc import sats

from .conftest import PASSWORD, SCREENSHOTS, USER

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

PRICE_LINE = "current price is 10000 satoshis / megabyte"
OPENING = ["logged out", "key decrypted", "refund signed", "deposit sent", "deposit broadcast", "open"]


def _value(page, element_id: str) -> str:
    return str(page.get_attribute(f"#{element_id}", "data-value"))


def _log_in(page, stack, password: str = PASSWORD) -> None:
    page.goto(stack.meter.url)
    expect(page.locator("#price-line")).to_have_text(PRICE_LINE)
    page.fill("#username", USER)
    page.fill("#password", password)
    page.click("#login-button")


def test_login_page_shows_the_price_and_a_wrong_password_opens_nothing(stack, page):
    page.goto(stack.meter.url)
    expect(page.locator("header h1")).to_have_text("metercoin")
    expect(page.get_by_text("please enter your username and password to log in to metercoin")).to_be_visible()
    expect(page.locator("#price-line")).to_have_text(PRICE_LINE)  # the price read live from the router
    expect(page.get_by_text("Username:")).to_be_visible()
    expect(page.get_by_text("Password:")).to_be_visible()
    expect(page.locator("#login-button")).to_have_text("log in")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "metered-login.png"))

    _log_in(page, stack, password="not the password")
    expect(page.locator("#login-error")).to_have_text("unknown user or wrong password")
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("#live-view")).to_be_hidden()
    assert stack.router.server.channels() == []  # nothing opened
    assert stack.app.session.state.value == "logged out"
    assert stack.wallet.rpc.getmempoolinfo()["size"] == 0  # no deposit went out


def test_login_opens_then_5_mb_pays_5_times_live_and_closing_the_tab_settles(stack, page):
    _log_in(page, stack)
    expect(page.locator("#state")).to_have_attribute("data-value", "open")
    steps = [li.get_attribute("data-state") for li in page.locator("#steps li").all()]
    assert steps == OPENING  # every step of the opening, in order
    session = stack.app.session
    deposit_txid = session.client.channel.deposit_txid
    assert stack.rpc.getmempoolentry(deposit_txid)  # the router broadcast the deposit

    done: dict[str, object] = {}

    def download() -> None:  # a steady 1 MB/s, as a person streaming would
        try:
            done["bytes"] = stack.download("5mb.bin", rate=1_000_000)
        except BaseException as e:  # surfaced below
            done["error"] = e

    reader = threading.Thread(target=download)
    reader.start()
    seen: list[int] = []
    lags: list[float] = []
    try:
        while reader.is_alive():
            proxied = stack.usage()["used_bytes"]  # the proxy's count now
            t0 = time.monotonic()
            page.wait_for_function("v => Number(document.getElementById('used-mb').dataset.value) >= v",
                                   arg=proxied, timeout=1_000)  # the page catches up within 1 s
            lags.append(time.monotonic() - t0)
            seen.append(int(_value(page, "used-mb")))
            page.wait_for_timeout(150)
    finally:
        reader.join()
    assert "error" not in done, done.get("error")
    assert done["bytes"] == 5_000_000
    assert len(set(seen)) >= 5 and seen == sorted(seen)  # the counter rose live, without a reload
    print(f"page lag behind the proxy's count: max {max(lags) * 1000:.0f} ms over {len(lags)} samples")

    expect(page.locator("#payments")).to_have_attribute("data-value", "5")
    payments = session.payments
    assert [p.amount for p in payments] == [10_000] * 5
    assert [p.paid for p in payments] == [20_000, 30_000, 40_000, 50_000, 60_000]  # the router's answers
    assert all(p.left_before_bytes is not None and p.left_before_bytes >= 250_000 for p in payments), \
        [p.left_before_bytes for p in payments]  # each paid with at least a quarter of an increment left
    print("prepaid bytes left when each payment arrived:", [p.left_before_bytes for p in payments])
    assert stack.router.server.channel(deposit_txid).best_change == 100_000 - 60_000
    expect(page.locator("#paid")).to_have_attribute("data-value", "60000")
    expect(page.locator("#deposit-tx")).to_have_attribute("data-value", deposit_txid)
    expect(page.locator("#deposit-tx")).to_have_attribute("data-confirmations", "0")  # in the mempool
    page.wait_for_function("() => Number(document.getElementById('used-mb').dataset.value) >= 5000000")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "metered-live.png"), full_page=True)

    operator = page.context.new_page()  # the router's operator page lists the channel with its income
    operator.goto(f"{stack.router.url}/operator#token={stack.router.operator_token}")
    row = operator.locator(f"tr[data-txid='{deposit_txid}'] td")
    expect(row.nth(1)).to_have_text("open")
    expect(row.nth(3)).to_have_text("60,000")
    expect(row.nth(7)).to_have_text("6.000")  # MB prepaid
    operator.close()

    shown_paid, shown_remaining = int(_value(page, "paid")), int(_value(page, "remaining"))
    page.close()  # the tab closes: the page's beacon (or its silence) closes the channel
    deadline = time.monotonic() + 10
    while session.state.value not in ("closed", "settled"):
        assert time.monotonic() < deadline, session.state
        time.sleep(0.02)
    print(f"closed because: {session.closed_because} ({time.monotonic() - deadline + 10:.2f} s after the tab closed)")
    stack.mine(1)
    close_txid = session.client.channel.settlement_txid
    close = stack.rpc.getrawtransaction(close_txid, True)
    assert close["confirmations"] == 1 and close["vin"][0]["txid"] == deposit_txid
    outputs = {o["scriptPubKey"]["hex"]: sats(o["value"]) for o in close["vout"]}
    stored = stack.router.server.channel(deposit_txid)
    assert outputs[session.client.channel.client_spk.hex()] == shown_remaining
    assert outputs[stored.server_spk.hex()] == shown_paid - stored.close_fee


def test_traffic_beyond_the_allotment_stalls_until_the_next_payment(stack):
    stack.app.session.page_timeout = 0  # no page in this test: no heartbeat to miss
    stack.login_api()
    stack.app.session.autopay = False
    done: dict[str, object] = {}
    reader = threading.Thread(target=lambda: done.update(bytes=stack.download("1500k.bin")))
    reader.start()
    try:
        stack.wait(lambda: stack.usage()["waiting"] >= 1)  # the proxy holds the transfer
        u = stack.usage()
        assert u["used_bytes"] == u["allotment_bytes"] == 1_000_000  # exactly the prepaid megabyte passed
        assert reader.is_alive() and "bytes" not in done
        assert stack.usage()["used_bytes"] == 1_000_000  # nothing more passes while it waits
        stack.app.session.autopay = True  # the next payment releases it
        reader.join(20)
    finally:
        stack.app.session.autopay = True
        reader.join()
    assert done.get("bytes") == 1_500_000
    stack.wait(lambda: len(stack.app.session.payments) == 1)  # recorded once the router's answer is read
    assert stack.usage()["allotment_bytes"] == 2_000_000


def test_router_killed_the_client_refund_confirms_after_the_lock_time(stack_router_process, page):
    stack = stack_router_process  # the router runs as `btcmicro router serve`, a process of its own
    _log_in(page, stack)
    expect(page.locator("#state")).to_have_attribute("data-value", "open")
    session = stack.app.session
    ch = session.client.channel
    stack.router.stop()  # SIGKILL: the router dies without settling
    expect(page.locator("#live-error")).to_contain_text("router unreachable")
    stack.mine(ch.expiry - stack.height() - 1)
    early = stack.rpc.testmempoolaccept([ch.refund_hex.hex()])[0]
    assert not early["allowed"] and "non-final" in early["reject-reason"]  # one block short of the lock time
    stack.mine(1)  # the tip reaches the lock time: the client broadcasts its refund
    expect(page.locator("#state")).to_have_attribute("data-value", "refunding")
    stack.mine(1)
    expect(page.locator("#state")).to_have_attribute("data-value", "refunded")
    expect(page.locator("#refund-tx")).to_have_attribute("data-confirmations", "1")
    refund = stack.rpc.getrawtransaction(_value(page, "refund-tx"), True)
    assert refund["vin"][0]["txid"] == ch.deposit_txid and refund["locktime"] == ch.expiry
