"""The console in a real browser: Debian's headless Chromium driven by selenium against a
real console process (`mp-webhooks console`), a real receiver, a real worker process,
Redis and the sandbox playing Mercado Pago and GoHighLevel. The scenarios of issue 12's
proof; with MPWH_UPDATE_SCREENSHOTS=1 they also write the README's screenshots."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

from services.receiver.app import create_app
from tests.conftest import TEST_API_TOKEN
from tests.receiver.conftest import signed_headers, webhook_body
from tests.support.servers import free_port, serve_app
from tests.support.waiting import wait_until

from .conftest import READ_TOKEN, SESSION_SECRET

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
XSS_SCRIPT = "<script>alert('x')</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'


@dataclass
class Stack:
    console: str
    receiver: str
    sandbox: object

    def notify(self, payment_id: str, **extra: object) -> str:
        body = webhook_body(payment_id, **extra)
        answer = httpx.post(f"{self.receiver}/webhooks/mp", json=body, headers=signed_headers(payment_id))
        assert answer.status_code == 200, answer.text
        return answer.json()["event_id"]


@pytest.fixture
def stack(make_settings, worker_env, sandbox, start_worker) -> Iterator[Stack]:
    env = worker_env(RETRY_DELAYS="none", API_READ_TOKEN=READ_TOKEN, CONSOLE_SESSION_SECRET=SESSION_SECRET)
    start_worker(env)
    port = free_port()
    console = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "console", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{url}/readyz"), timeout=20, message="the console")
        with serve_app(create_app(make_settings(**env))) as receiver:
            yield Stack(url, receiver, sandbox[0])
    finally:
        console.terminate()
        console.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


def _sign_in(browser: WebDriver, stack: Stack, token: str, page: str = "/console/events") -> None:
    browser.get(stack.console + page)
    assert "/console/sign-in" in browser.current_url
    # The token field has the focus: the form is usable from the keyboard alone.
    field = browser.switch_to.active_element
    assert field.get_attribute("name") == "token"
    field.send_keys(token + "\n")
    wait_until(lambda: "/console/sign-in" not in browser.current_url, message="sign-in")


def _navigate(browser: WebDriver, button_selector: str) -> None:
    """Clicks a button that loads the next page, and waits until the old page is gone (a
    lookup right after the click could find the old page's elements)."""
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, button_selector).click()
    WebDriverWait(browser, 15).until(staleness_of(old))


def _rows(browser: WebDriver, status: str | None = None) -> list:
    selector = "tr[data-event-id]" + (f'[data-status="{status}"]' if status else "")
    return browser.find_elements(By.CSS_SELECTOR, selector)


def _screenshot(browser: WebDriver, name: str) -> None:
    if os.environ.get("MPWH_UPDATE_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(IMAGES / name))


def _post_from_page(browser: WebDriver, path: str, form: dict[str, str]) -> int:
    """A POST made by script from the signed-in page (what a forged form would send)."""
    return browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        fetch(arguments[0], {method: 'POST', body: new URLSearchParams(arguments[1]), redirect: 'manual'})
          .then(r => done(r.status)).catch(e => done(String(e)));
        """,
        path,
        form,
    )


def test_operator_finds_failed_events_retries_two_and_sees_them_succeed(stack: Stack, browser: WebDriver):
    # Payments the sandbox does not know yet: Mercado Pago answers 404, the events fail.
    failed = [stack.notify(f"31{n}") for n in range(3)]
    hostile = stack.notify("319", note=XSS_SCRIPT, extra_html=XSS_IMG)
    stack.sandbox.put_payment("300", "approved")
    done = stack.notify("300")
    wait_until(lambda: _event_status(stack, failed[-1]) == "failed" and _event_status(stack, done) == "success")

    _sign_in(browser, stack, TEST_API_TOKEN, "/console/events?status=failed")
    assert browser.current_url.endswith("/console/events?status=failed")
    rows = _rows(browser)
    assert len(rows) == 4 and all(row.get_attribute("data-status") == "failed" for row in rows)
    badges = browser.find_elements(By.CSS_SELECTOR, "tr[data-event-id] .badge.status-failed")
    assert len(badges) == 4 and {badge.text for badge in badges} == {"failed"}

    browser.get(stack.console + "/console/events")
    _screenshot(browser, "console-events.png")
    browser.get(stack.console + "/console/events?status=failed")
    # The upstream works again: select two failed events and retry them.
    for payment_id in ("310", "311"):
        stack.sandbox.put_payment(payment_id, "approved")
    chosen = failed[:2]
    for event_id in chosen:
        browser.find_element(By.CSS_SELECTOR, f'input[name="event_id"][value="{event_id}"]').click()
    _navigate(browser, 'button[data-action="retry-selected"]')
    assert "Retry 2 events?" in browser.find_element(By.TAG_NAME, "h1").text
    _navigate(browser, 'button[data-action="confirm-retry"]')
    flash = browser.find_element(By.CSS_SELECTOR, ".flash")
    assert "2 queued" in flash.text and all(event_id in flash.text for event_id in chosen)

    wait_until(lambda: all(_event_status(stack, event_id) == "success" for event_id in chosen), timeout=20)
    browser.get(stack.console + "/console/events?status=success")
    shown = {row.get_attribute("data-event-id") for row in _rows(browser, "success")}
    assert set(chosen) <= shown
    assert browser.find_elements(By.CSS_SELECTOR, f'tr[data-event-id="{chosen[0]}"] .badge.status-success')

    browser.get(f"{stack.console}/console/events/{chosen[0]}")
    history = browser.find_element(By.CSS_SELECTOR, "table.history").text
    assert "requested_by: console" in history and "success" in history
    _screenshot(browser, "console-event.png")

    # What a payload carries is shown as text, never run.
    browser.get(f"{stack.console}/console/events/{hostile}")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is what raises when no alert opened
    payload = browser.find_element(By.CSS_SELECTOR, "pre.json:last-of-type").text
    assert XSS_SCRIPT in payload and "onerror=alert(1)" in payload
    assert not browser.find_elements(By.CSS_SELECTOR, "main img")

    browser.get(stack.console + "/console/payments")
    assert browser.find_elements(By.CSS_SELECTOR, 'tr[data-payment-id="300"] .badge.pay-approved')
    _screenshot(browser, "console-payments.png")

    # A POST without the CSRF token is refused, nothing queued.
    assert _post_from_page(browser, "/console/events/retry", {"event_id": failed[2], "confirmed": "yes"}) == 403
    assert _event_status(stack, failed[2]) == "failed"

    # Usable at 390 px: the page itself does not scroll sideways (tables scroll in place).
    browser.set_window_size(390, 844)
    browser.get(stack.console + "/console/events")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390


def test_read_only_sees_no_retry_control_and_a_forged_post_is_refused(stack: Stack, browser: WebDriver):
    event_id = stack.notify("320")
    wait_until(lambda: _event_status(stack, event_id) == "failed")
    _sign_in(browser, stack, READ_TOKEN)
    assert len(_rows(browser, "failed")) == 1
    for hook in ('button[data-action="retry-selected"]', 'input[name="event_id"]', 'button[data-action="retry-one"]'):
        assert not browser.find_elements(By.CSS_SELECTOR, hook)
    browser.get(f"{stack.console}/console/events/{event_id}")
    assert not browser.find_elements(By.CSS_SELECTOR, 'button[data-action="retry-one"]')
    csrf = browser.find_element(By.CSS_SELECTOR, 'input[name="csrf"]').get_attribute("value")
    form = {"csrf": csrf, "event_id": event_id, "confirmed": "yes"}
    assert _post_from_page(browser, "/console/events/retry", form) == 403
    assert _event_status(stack, event_id) == "failed"


def _event_status(stack: Stack, event_id: str) -> str:
    answer = httpx.get(
        f"{stack.receiver}/api/webhook-events/{event_id}", headers={"Authorization": f"Bearer {TEST_API_TOKEN}"}
    )
    return answer.json()["status"]
