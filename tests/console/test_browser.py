"""The console and Swagger UI in a real browser (Debian's Chromium, Playwright): on the
demo, a person finds half_plus_two, sends the prefilled predict and reads 2.5; no
JavaScript errors, no request to any other host; screenshots go to .artifacts/console.

The pages run under a Content-Security-Policy of 'self' only, so the checks use
Playwright's locators (which need no eval in the page), never wait_for_function."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect

from tests.console.conftest import API_KEY

pytestmark = pytest.mark.slow
TIMEOUT_MS = 30_000
FAILED_LOAD = "Failed to load resource"


@dataclass
class Watched:
    """A page and what it did: console errors, uncaught exceptions, every request."""

    page: Page
    origin: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def js_errors(self) -> list[str]:
        """Errors of the page's scripts (Chromium also logs each non-2xx fetch as an error)."""
        return [e for e in self.errors if not e.startswith(FAILED_LOAD)]

    def failed_loads(self) -> list[str]:
        return [e for e in self.errors if e.startswith(FAILED_LOAD)]

    def other_hosts(self) -> list[str]:
        return [url for url in self.requests if not url.startswith((self.origin, "data:"))]


def watch(browser: Browser, base_url: str) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watched = Watched(page, f"{urlsplit(base_url).scheme}://{urlsplit(base_url).netloc}")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    def on_request(request: Request) -> None:
        watched.requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
    page.on("request", on_request)
    try:
        yield watched
    finally:
        context.close()


@pytest.fixture
def demo_page(browser: Browser, demo_gateway: str) -> Iterator[Watched]:
    yield from watch(browser, demo_gateway)


@pytest.fixture
def auth_page(browser: Browser, auth_gateway: str) -> Iterator[Watched]:
    yield from watch(browser, auth_gateway)


def send_and_expect(page: Page, status: str, answer: str) -> None:
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("response-status")).to_contain_text(status)
    expect(page.get_by_test_id("response")).to_contain_text(answer)


def test_console_on_the_demo(demo_page: Watched, demo_gateway: str, artifacts: Path) -> None:
    page = demo_page.page
    page.goto(f"{demo_gateway}/")  # redirects to /console/
    expect(page).to_have_url(re.compile(r"/console/$"))
    for name in ("half_plus_two", "mnist"):
        expect(page.locator(f'[data-model="{name}"]')).to_be_visible()
    expect(page.locator('[data-model="mnist"]')).to_contain_text("deployment mnist")
    page.locator('[data-model="half_plus_two"] button').click()
    expect(page.locator("#model-title")).to_have_text("half_plus_two")
    expect(page.locator("#signatures")).to_contain_text("DT_FLOAT")
    expect(page.locator("#verb")).to_have_value("predict")
    expect(page.locator("#example")).to_have_value("serving_default (row)")
    expect(page.get_by_test_id("request-body")).to_have_value(re.compile(r'"instances"'))
    send_and_expect(page, "200", "2.5")
    expect(page.locator("#curl")).to_contain_text("/v1/models/half_plus_two:predict")
    # The same call through the Paperspace form, and a classify built from the examples.
    page.locator("#endpoint").select_option("/model-serving/half-plus-two")
    send_and_expect(page, "200", "2.5")
    page.locator("#verb").select_option("classify")
    expect(page.get_by_test_id("request-body")).to_have_value(re.compile(r'"examples"'))
    send_and_expect(page, "200", "results")
    # A bad body gets the gateway's 400 and its message, shown as answered.
    page.get_by_test_id("request-body").fill("{not json")
    send_and_expect(page, "400", "JSON Parse error")
    # The live panel: this page's calls appear once their 5 s step has closed.
    expect(page.locator("#rps-now")).to_contain_text("now", timeout=15_000)
    expect(page.locator("#live-note")).to_contain_text("last 5 minutes")
    page.wait_for_timeout(6_000)
    page.screenshot(path=artifacts / "console-demo.png", full_page=True)
    assert demo_page.js_errors() == []
    assert [e for e in demo_page.failed_loads() if "400" not in e] == []  # the bad body's
    assert demo_page.other_hosts() == []


def test_mnist_signatures_and_examples(demo_page: Watched, demo_gateway: str) -> None:
    page = demo_page.page
    page.goto(f"{demo_gateway}/console/")
    page.locator('[data-model="mnist"] button').click()
    expect(page.locator("#signatures")).to_contain_text("[-1, 784]")
    page.locator("#example").select_option("predict_classes (columnar)")
    send_and_expect(page, "200", "classes")
    assert demo_page.errors == []


def test_swagger_ui_stays_on_this_host(
    demo_page: Watched, demo_gateway: str, artifacts: Path
) -> None:
    page = demo_page.page
    page.goto(f"{demo_gateway}/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("tfs-gateway")
    expect(
        page.locator(".opblock-summary-path", has_text="/v1/models/half_plus_two:predict")
    ).to_be_visible()
    page.screenshot(path=artifacts / "swagger-ui-demo.png")
    page.goto(f"{demo_gateway}/docs/?doc=/v1/models/mnist/openapi.json")
    expect(
        page.locator(".opblock-summary-path", has_text="/v1/models/mnist:classify")
    ).to_be_visible()
    expect(page.locator(".swagger-ui")).not_to_contain_text("validator")
    assert demo_page.errors == []
    assert demo_page.other_hosts() == []


def test_with_auth_the_page_asks_for_a_key(
    auth_page: Watched, auth_gateway: str, artifacts: Path
) -> None:
    page = auth_page.page
    page.goto(f"{auth_gateway}/console/")
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator('[data-model="half_plus_two_tf2"]')).to_have_count(0)
    page.locator("#key-input").fill(API_KEY)
    page.locator("#key-form button").click()
    expect(page.locator('[data-model="half_plus_two_tf2"]')).to_be_visible()
    expect(page.locator('[data-model="default"]')).to_have_count(0)  # not this key's
    page.locator('[data-model="half_plus_two_tf2"] button').click()
    expect(page.locator("#example")).to_have_value("serving_default (row)")
    send_and_expect(page, "200", "2.5")
    expect(page.locator("#curl")).to_contain_text("X-API-Key: $TFS_GATEWAY_API_KEY")
    page.screenshot(path=artifacts / "console-auth.png", full_page=True)
    # The key lives in sessionStorage: a reload and Swagger UI use it without asking.
    page.reload()
    expect(page.locator('[data-model="half_plus_two_tf2"]')).to_be_visible()
    expect(page.locator("#key-form")).to_be_hidden()
    page.goto(f"{auth_gateway}/docs/")
    expect(
        page.locator(".opblock-summary-path", has_text="/model-serving/dep-tf2:predict")
    ).to_be_visible()
    # Only the first, keyless calls were refused.
    assert auth_page.js_errors() == []
    assert all("401" in error for error in auth_page.failed_loads()), auth_page.errors
    assert auth_page.other_hosts() == []
