"""A real browser: Debian's chromium, headless, driven by Selenium through the system chromedriver (nothing
downloaded), loads the page that `newswatch serve` renders from a real broker: the alerts in order, the
filters, an alert's history, a screenshot, and hostile article text that stays inert."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from tests.integration.serve.harness import ServeProcess, produce, record
from tests.unit.serve.support import HOSTILE, alert

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# CI installs both (.ci/run) and must run this test; elsewhere a machine without them skips it
pytestmark = pytest.mark.skipif(
    not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)) and not os.environ.get("CI"),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


class UniqueTopics:  # the ``unique_topics`` fixture of tests/conftest.py
    alerts: str


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1400", f"--user-data-dir={tmp_path / 'chromium-profile'}"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _ids(driver: Any) -> list[str]:
    return [li.get_attribute("data-alert-id") for li in driver.find_elements(By.CSS_SELECTOR, "li.alert")]


def test_the_page_in_a_real_browser(
    kafka_bootstrap: str, unique_topics: UniqueTopics, tmp_path: Path, browser: Any
) -> None:
    hostile = alert(
        "al-hostile",
        1,
        7,
        headline=HOSTILE,
        evidence=[
            {"sentence": HOSTILE, "article_id": "h", "url": "https://evil.example/x", "outlet": HOSTILE}
        ],
        countries=["NE"],
    )
    produce(
        kafka_bootstrap,
        unique_topics.alerts,
        [
            record(
                alert("al-coup", 1, 0, event_type="coup", countries=["GW"], headline="Soldiers seize power")
            ),
            record(alert("al-mw", 1, 3, countries=["FR", "ML"])),
            record(
                alert("al-coup", 2, 5, event_type="coup", countries=["GW"], headline="Soldiers seize power")
            ),
            record(
                alert("al-coup", 3, 9, event_type="coup", countries=["GW"], headline="Soldiers seize power")
            ),
            record(hostile),
        ],
    )
    serve = ServeProcess(kafka_bootstrap, unique_topics.alerts, tmp_path / "state", tmp_path / "serve.log")
    try:
        serve.wait_ready()
        browser.get(serve.base + "/")
        assert _ids(browser) == ["al-coup", "al-hostile", "al-mw"]  # newest last_updated first
        first = browser.find_element(By.CSS_SELECTOR, "li.alert")
        assert "Soldiers seize power" in first.text and "Guinea-Bissau (GW)" in first.text
        assert "FLASH" in first.text.upper() and "3 sources" in first.text
        screenshot = tmp_path / "alerts.png"
        assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000

        # hostile text is shown as text and ran no script (the payload would set window.__pwned)
        assert "<script>window.__pwned=1</script>" in browser.find_element(By.ID, "alerts").text
        assert browser.execute_script("return typeof window.__pwned") == "undefined"
        assert browser.find_elements(By.CSS_SELECTOR, "#alerts script, #alerts img") == []

        # filters through the form, as a user would
        Select(browser.find_element(By.NAME, "event_type")).select_by_value("coup")
        browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
        _loaded(browser, lambda d: "event_type=coup" in d.current_url)  # a click navigates asynchronously
        assert _ids(browser) == ["al-coup"]
        browser.get(serve.base + "/?country=ml")
        assert _ids(browser) == ["al-mw"]
        browser.get(serve.base + "/?severity=routine")
        assert browser.find_element(By.ID, "no-alerts").is_displayed()

        # an alert's history: every version, newest first, what each added
        browser.get(serve.base + "/")
        browser.find_element(By.CSS_SELECTOR, 'li[data-alert-id="al-coup"] .headline a').click()
        _loaded(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#history section.version"))
        versions = browser.find_elements(By.CSS_SELECTOR, "#history section.version")
        assert [v.get_attribute("data-version") for v in versions] == ["3", "2", "1"]
        assert "new outlets: Outlet 3" in versions[0].text
        browser.save_screenshot(str(tmp_path / "history.png"))

        browser.get(serve.base + "/alerts/al-hostile")
        assert browser.execute_script("return typeof window.__pwned") == "undefined"
        links = browser.find_elements(By.CSS_SELECTOR, "a[href^='https://evil.example']")
        assert links and all(a.get_attribute("rel") == "noopener noreferrer" for a in links)
    finally:
        serve.stop()


def _loaded(browser: Any, condition: Any, timeout: float = 15.0) -> None:
    """Wait until ``condition(browser)`` holds and the page has finished loading."""
    WebDriverWait(browser, timeout).until(condition)
    WebDriverWait(browser, timeout).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
