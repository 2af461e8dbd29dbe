"""Debian's chromium, headless, driven by chromedriver: the one way the tests open a browser.

:func:`chromium` starts one (a 1366x768 viewport, background networking off, the console and
every network request recorded); :class:`Tab` is what a flow holds: it opens the service's
pages, saves a screenshot per step and, at any moment, says what went wrong so far: a
Content-Security-Policy violation, an error in the console, or a request to any host but the
service under test.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import need

WIDTH, HEIGHT = 1366, 768
ROOT = Path(__file__).resolve().parent.parent.parent

# Runs before any page script, so a violation on any page of the window is kept.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""

# Chromium's own traffic (updates, safe browsing, sync, field trials) is not the pages'; it is
# turned off so that nothing but the pages under test may use the network at all.
QUIET = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--metrics-recording-only",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    f"--window-size={WIDTH},{HEIGHT}",
)

# Schemes whose "requests" never reach a network: the page's own data.
IN_PAGE_SCHEMES = {"data", "blob", "about"}


PAGE_LOAD_SECONDS = 60


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium with a 1366x768 viewport, its console and network logs recorded."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path, binary = shutil.which("chromedriver"), shutil.which("chromium")
    if driver_path is None or binary is None:
        need("chromium and chromium-driver are not installed (Debian packages)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in QUIET:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(0)
    # A page that does not load within this fails the click or the visit that asked for it,
    # rather than holding the flow (chromedriver's own default is five minutes).
    driver.set_page_load_timeout(PAGE_LOAD_SECONDS)
    # --window-size sizes the window, not the page: the viewport is set exactly, so that every
    # screenshot is 1366x768 whatever the window's frame takes.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        yield driver
    finally:
        driver.quit()


def watch(driver: Any) -> None:
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})


def problems(driver: Any) -> list[str]:
    """CSP violations seen by the page, and errors the browser logged (CSP reports included).

    The browser's log is read once: each call returns what was logged since the last.
    """
    seen = list(driver.execute_script("return window.__violations || ['not watched'];"))
    logged = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    # Browsers ask for /favicon.ico on their own; the admin names no icon and the service has none.
    return seen + [message for message in logged if "/favicon.ico " not in message]


def wait_for(driver: Any, condition: Callable[[Any], Any], seconds: float = 20) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(condition)


def sign_in(driver: Any, origin: str, user: User) -> None:
    """Give the browser a session of ``user`` without the login form (tested on its own)."""
    client = Client()
    client.force_login(user)
    driver.get(f"{origin}/admin/login/")
    name = settings.SESSION_COOKIE_NAME
    driver.add_cookie({"name": name, "value": client.cookies[name].value, "path": "/"})


def requested_urls(driver: Any) -> list[str]:
    """Every URL the browser asked for since the last call, from the DevTools network events
    of every window (popups included)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def leaving(urls: list[str], origin: str) -> list[str]:
    """The URLs of ``urls`` that go anywhere but ``origin`` (in-page data and blobs stay)."""
    home = urlsplit(origin)
    return [
        url
        for url in urls
        if urlsplit(url).scheme not in IN_PAGE_SCHEMES
        and (urlsplit(url).scheme, urlsplit(url).netloc) != (home.scheme, home.netloc)
    ]


# Every <img> of the page finished loading with a picture, and every SVG one says what it shows:
# its alt, or, for an icon inside a link or button, the title or label of that link.
BROKEN_IMAGES = """
return Array.from(document.images).flatMap((img) => {
  const found = [];
  if (!img.complete || img.naturalWidth === 0) found.push("not loaded: " + img.currentSrc);
  const svg = /\\.svg([?#]|$)/i.test(img.currentSrc) || img.currentSrc.startsWith("data:image/svg");
  const named = img.closest("a[title], a[aria-label], button[title], button[aria-label]");
  const alt = (img.getAttribute("alt") || "").trim();
  if (svg && !alt && !(named && img.getAttribute("alt") === "")) {
    found.push("no alt: " + img.currentSrc);
  }
  return found;
});
"""


def broken_images(driver: Any, *, within: float = 10) -> list[str]:
    """Images of the current page that did not load, and SVG images without an ``alt``.

    Waits (up to ``within`` seconds) for every image to finish loading or failing: an image
    added by a script may still be on its way when the document is complete.
    """
    from selenium.common.exceptions import TimeoutException

    # What is still loading after that is reported as not loaded.
    with contextlib.suppress(TimeoutException):
        wait_for(
            driver,
            lambda d: d.execute_script(
                "return document.readyState === 'complete'"
                " && Array.from(document.images).every((img) => img.complete);"
            ),
            within,
        )
    return list(driver.execute_script(BROKEN_IMAGES))


def artifacts_dir() -> Path:
    """Where screenshots go: ``E2E_ARTIFACTS``, else ``var/e2e/`` of the repository."""
    return Path(os.environ.get("E2E_ARTIFACTS") or ROOT / "var" / "e2e")


class Tab:
    """One curator's browser in one flow, on the service at ``origin``.

    Everything the browser logged and requested is kept, so that :meth:`assert_clean` judges
    the whole flow, pages already left included.
    """

    def __init__(self, driver: Any, origin: str, flow: str) -> None:
        self.driver = driver
        self.origin = origin
        self.flow = flow
        self.requested: list[str] = []
        self.logged: list[str] = []
        watch(driver)

    def open(self, path: str) -> None:
        self.driver.get(self.origin + path)

    def reload(self) -> None:
        self.driver.refresh()

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self, css: str) -> str:
        return str(self.find(css).text).strip()

    def wait(self, condition: Callable[[Any], Any], seconds: float = 20) -> Any:
        return wait_for(self.driver, condition, seconds)

    def wait_css(self, css: str, seconds: float = 20) -> Any:
        return self.wait(lambda d: self.find_all(css), seconds)[0]

    def shoot(self, step: str, *, at: str | None = None, across: str | None = None) -> Path:
        """Save the viewport as ``<flow>-<step>.png``, once every picture on it has loaded;
        ``at``: scrolled so that the element it selects is at the top; ``across``: scrolled
        sideways, on a page wider than the window, until the element it selects is in view."""
        if at is not None:
            self.driver.execute_script(
                "window.scrollTo(0, arguments[0].getBoundingClientRect().top + scrollY - 8);",
                self.find(at),
            )
        if across is not None:
            self.driver.execute_script(
                "const box = arguments[0].getBoundingClientRect();"
                "window.scrollTo(Math.max(0, box.right + scrollX - innerWidth + 16), scrollY);",
                self.find(across),
            )
        assert broken_images(self.driver) == [], f"{self.flow}/{step}: broken pictures"
        directory = artifacts_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.flow}-{step}.png"
        self.driver.save_screenshot(str(path))
        return path

    def collect(self) -> None:
        self.logged += problems(self.driver)
        self.requested += requested_urls(self.driver)

    def assert_clean(self) -> None:
        """No CSP violation, no console error and no request off this service, so far."""
        self.collect()
        assert self.logged == [], "console errors or CSP violations"
        assert leaving(self.requested, self.origin) == [], "requests that left the service"
