"""The real UI in a real browser: `casestream ui`'s command line on a free 127.0.0.1 port, every page
loaded in headless Debian Chromium (selenium + /usr/bin/chromedriver), no Streamlit exception shown.

The store is a SQLite file seeded with `tests.unit.ui_seed`; screenshots go to test-artifacts/ui-*.png.
The server and the browser are stopped by the test (the server by its own process id).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from services.settings import Settings
from services.store import open_store
from services.ui_command import ui_argv, ui_env
from tests.unit import ui_seed

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# url path (the default page, Översikt, is the root) -> a heading the page shows once its data are in
# (table cells are drawn on a canvas by st.dataframe, so they are not in the DOM to look for)
PAGES = {
    "": "Personer snitt per dygn",
    "externa-kop": "Extern vård och behandling per verksamhet",
    "belaggning": "Beläggningsgrad per enhet och månad",
    "aktualiseringar": "Inledda och avslutade utredningar",
    "prognos": "Helårsprognos med osäkerhet (p10–p90)",  # the band, the page's last section
}
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1800")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"streamlit at {url} not healthy within {timeout} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("ui-e2e") / "events.db"
    store = open_store(f"sqlite:///{path}")
    store.append(ui_seed.all_events())
    store.close()
    settings = Settings(db=f"sqlite:///{path}")
    port = free_port()
    log = (tmp_path_factory.mktemp("ui-log") / "streamlit.log").open("wb")
    proc = subprocess.Popen(ui_argv(settings, port=port), env=ui_env(settings), stdout=log,
                            stderr=subprocess.STDOUT, cwd=path.parent)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def settle(driver: webdriver.Chrome, text: str, timeout: float = 60) -> None:
    """Wait until the page shows `text` and Streamlit no longer reports a running script. While the page
    is replaced (a navigation, a sign-out's redirect) Chrome may answer a poll with "Node with given id
    does not belong to the document": such a poll is taken again (a page that never shows `text` still
    times out)."""
    transient = (StaleElementReferenceException, WebDriverException)
    WebDriverWait(driver, timeout, ignored_exceptions=transient).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), text))
    WebDriverWait(driver, timeout, ignored_exceptions=transient).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"] *'))


@pytest.mark.timeout(240)
def test_every_page_loads_without_an_exception(server: str, browser: webdriver.Chrome) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for path, text in PAGES.items():
        browser.get(f"{server}/{path}")
        try:
            settle(browser, text)
        finally:
            browser.save_screenshot(str(ARTIFACTS / f"ui-{path or 'oversikt'}.png"))
        assert "Page not found" not in browser.find_element(By.TAG_NAME, "body").text, path
        shown = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
        assert not shown, f"{path}: {[e.text for e in shown]}"
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "Senaste händelse" in body, f"{path}: freshness not shown"
        assert "Traceback" not in body, path
    browser.get(f"{server}/")
    settle(browser, "Personer snitt per dygn")
    metrics = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricValue"]')
    assert "8.0" in [m.text for m in metrics]
