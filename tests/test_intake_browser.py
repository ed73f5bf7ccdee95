"""A real browser (Debian's Chromium, driven by Selenium through chromedriver) reports an
incident over TLS through ``cirt intake serve`` and follows the report's status."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cirt.demos.servers import intake_form
from cirt.workspace import Workspace
from tests.tls import loopback_certificate

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
    reason="Chromium and chromedriver come from scripts/setup.sh",
)


@pytest.fixture
def chromium() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--ignore-certificate-errors",
        "--lang=en-GB",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_citizen_reports_phishing_in_chromium_and_follows_its_status(
    chromium: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(chromium, WebDriver)
    cert, key = loopback_certificate(tmp_path)
    screenshot = tmp_path / "sms.png"
    screenshot.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    home = tmp_path / "ws"
    Workspace.init(home).close()
    wait = WebDriverWait(chromium, 30)  # a click returns before the next page is loaded
    with intake_form(home, cert=str(cert), key=str(key)) as url:
        chromium.get(url + "/?lang=es")
        assert "Reportar un incidente" in chromium.title
        chromium.find_element(By.LINK_TEXT, "English").click()
        wait.until(lambda d: "lang=en" in d.current_url)
        assert chromium.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        chromium.find_element(By.CSS_SELECTOR, "input[name=category][value=phishing]").click()
        chromium.find_element(By.ID, "what").send_keys(
            "An SMS said my card was blocked and sent me to hxxps://cbb-cards[.]example"
        )
        chromium.find_element(By.ID, "occurred").send_keys("this morning")
        chromium.find_element(By.ID, "reporter_contact").send_keys("citizen@example.org")
        chromium.find_element(By.ID, "files").send_keys(str(screenshot))
        chromium.find_element(By.ID, "send").click()
        wait.until(lambda d: "/status/" in d.current_url)
        assert "Thank you" in chromium.find_element(By.TAG_NAME, "main").text
        reference = chromium.find_element(By.ID, "reference").text
        assert chromium.find_element(By.ID, "state").get_attribute("data-state") == "new"
        status_page = chromium.current_url

        with Workspace.open(home) as ws:
            report = ws.intake.get(reference)
            assert report.row.reporter_contact == "citizen@example.org"
            assert [a.name for a in report.attachments] == ["sms.png"]
            accepted = ws.intake.accept(reference, organisations=["cbb"])
            assert ws.incidents.get(accepted.incident).reference == accepted.incident

        chromium.get(status_page)
        assert chromium.find_element(By.ID, "state").get_attribute("data-state") == "accepted"
        assert "an analyst is handling it" in chromium.find_element(By.ID, "state").text
        chromium.get(url + "/status/not-a-token")
        assert "There is no report at this address." in chromium.find_element(By.ID, "message").text
