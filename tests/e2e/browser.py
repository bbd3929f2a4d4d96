"""A real headless Chromium (Debian's, through chromedriver) that records every request it makes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)


class Browser:
    """One Chromium session; `requests` holds every URL a page asked for, in order."""

    def __init__(self, profile: Path) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.requests: list[str] = []

    def record(self) -> list[str]:
        """Drain the performance log into `requests`."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])
        return self.requests

    def foreign_requests(self, origin: str) -> list[str]:
        """Requests to any other host (the browser's own chrome:// pages and data: URLs are not network)."""
        host = urlsplit(origin).netloc
        local = ("data", "about", "blob", "chrome", "chrome-untrusted", "devtools")
        return [u for u in self.record() if urlsplit(u).scheme not in local and urlsplit(u).netloc != host]

    def console_errors(self) -> list[str]:
        """Errors and warnings the pages logged to the browser console since the last call."""
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]

    def open(self, url: str) -> None:
        self.driver.get(url)
        self.record()

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def button(self, label: str) -> WebElement:
        return self.driver.find_element(By.XPATH, f"//button[normalize-space(.)={json.dumps(label)}]")

    def click(self, label: str = "", css: str = "") -> None:
        """Click a button by its label (or an element by CSS); a live refresh may replace it, so find it again."""

        def press() -> bool:
            (self.find(css) if css else self.button(label)).click()
            return True

        self.wait_for(press, f"a clickable {label or css}")

    def text(self, css: str = "main") -> str:
        return self.find(css).text

    def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        """Poll the page as a person watching it would (no reload); fail naming what never showed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = predicate()
            except (NoSuchElementException, StaleElementReferenceException):
                found = None
            except WebDriverException as exc:  # Chrome's word for an element a live refresh just replaced
                if "does not belong to the document" not in str(exc.msg):
                    raise
                found = None
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"{what} did not show within {timeout} s; page:\n{self.text('body')[:3000]}")

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))

    def close(self) -> None:
        self.driver.quit()


def start_browser() -> Iterator[Browser]:
    """A fresh profile per browser, removed afterwards."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.fail("Chromium is not installed: `make test` installs chromium and chromium-driver")
    profile = Path(tempfile.mkdtemp(prefix="console-chromium-"))
    opened = Browser(profile)
    try:
        yield opened
    finally:
        opened.close()
        shutil.rmtree(profile, ignore_errors=True)
