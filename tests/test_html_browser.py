"""The HTML report in a real browser: Debian's headless chromium, driven by selenium through
Debian's chromium-driver, opens the failing SABR sample's report from a file:// URL, logs no
console error, shows the oesophagus in the failures block, and renders a page that is not blank.

.ci/run installs chromium and chromium-driver; the test skips, saying why, only where no
browser or driver is installed.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from rtcheck.cli import main

REPO = Path(__file__).resolve().parents[1]
SABR = REPO / "sample_dicom" / "sabr_3lesions_5fx"

#: Flags for chromium run as root in a container with no display, GPU or network use.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,2000",
)


def _browser() -> tuple[str, str]:
    """The chromium binary and its driver, or a skip saying what is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
    if browser is None or driver is None:
        pytest.skip("no chromium or chromedriver: install Debian's chromium and chromium-driver (.ci/run does)")
    return browser, driver


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A headless chromium showing the SABR sample's HTML report; closed afterwards."""
    browser, driver_path = _browser()
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
    from selenium.webdriver.chrome.service import Service

    folder = tmp_path_factory.mktemp("html-report")
    report = folder / "report.html"
    result = CliRunner().invoke(main, ["check", str(SABR), "--format", "html", "-o", str(report)])
    assert result.exit_code == 1, result.output
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="rtcheck-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.get(report.as_uri())
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_no_console_error(page):
    severe = [entry for entry in page.get_log("browser") if entry.get("level") == "SEVERE"]
    assert severe == []


def test_the_oesophagus_is_in_the_failures_block(page):
    from selenium.webdriver.common.by import By

    failures = page.find_element(By.ID, "failures")
    assert failures.is_displayed()
    assert "Esophagus" in failures.text and "FAIL" in failures.text
    assert page.find_element(By.ID, "verdict").get_attribute("data-verdict") == "FAIL"


def test_the_dvh_plots_are_drawn(page):
    from selenium.webdriver.common.by import By

    figures = page.find_elements(By.CSS_SELECTOR, "figure.dvh svg")
    assert len(figures) >= 5  # one per checked organ of the SABR plan
    esophagus = page.find_element(By.CSS_SELECTOR, 'figure.dvh[data-organ="Esophagus"] svg')
    assert esophagus.size["width"] > 200 and esophagus.size["height"] > 100


def test_the_page_is_not_blank(page):
    image_module = pytest.importorskip("PIL.Image")
    shot = image_module.open(io.BytesIO(page.get_screenshot_as_png())).convert("RGB")
    colours = shot.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 16  # banner, text, tables in their colours
    width, height = shot.size
    assert width >= 800 and height >= 600
