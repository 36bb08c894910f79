"""OIDC sign-in in a real browser: `casestream ui` with sign-in on against oidc-provider-mock, headless
Chromium, a seeded SQLite store.

The mock runs in this process (werkzeug, a thread, 127.0.0.1, a free port); its users get their role
claim through the mock's own API (`PUT /users/<sub>`) and sign in on its authorize form by subject.
An enhet user sees Beläggning but not Logguppföljning, and views of Beläggning land in the store as
`access.viewed` events with the token's subject; after signing out (Streamlit's logout, the mock's
end-session form) the sign-in page is back. A controller then opens Logguppföljning, and
`casestream report logguppfoljning` counts the enhet user's views. Every server and the browser are
stopped by the test; the UI's private secrets folder is gone afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import oidc_provider_mock
import pytest
import werkzeug.serving
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from events.access import AccessViewed
from services.store import open_store
from tests.e2e.test_ui_browser import ARTIFACTS, browser, free_port, settle, wait_healthy
from tests.unit import ui_seed

__all__ = ["browser"]  # the fixture, shared with test_ui_browser
CLAIM = "casestream_role"
USERS = {"u-enhet-7f3a": "enhet", "u-controller-2b9c": "controller"}
CASESTREAM = str(Path(sys.executable).with_name("casestream"))


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        for sub, role in USERS.items():
            request = urllib.request.Request(f"{url}/users/{sub}", method="PUT",
                                             data=json.dumps({CLAIM: role}).encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as resp:
                assert resp.status == 204
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ui-login") / "events.db"
    store = open_store(f"sqlite:///{path}")
    store.append(ui_seed.all_events())
    store.close()
    return f"sqlite:///{path}"


def auth_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("casestream-ui-auth-*"))


@pytest.fixture(scope="module")
def ui(provider: str, store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "CASESTREAM_AUTH_ENABLED": "true", "AUTHLIB_INSECURE_TRANSPORT": "1",
           "CASESTREAM_AUTH_SERVER_METADATA_URL": f"{provider}/.well-known/openid-configuration",
           "CASESTREAM_AUTH_CLIENT_ID": "casestream-ui", "CASESTREAM_AUTH_CLIENT_SECRET": "test-secret",
           "CASESTREAM_AUTH_ROLE_CLAIM": CLAIM}
    before = auth_folders()
    log = (tmp_path_factory.mktemp("ui-login-log") / "ui.log").open("wb")
    proc = subprocess.Popen([CASESTREAM, "ui", "--db", store_url, "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path_factory.mktemp("cwd"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)  # type: ignore[arg-type]
        created = auth_folders() - before
        assert len(created) == 1 and oct(next(iter(created)).stat().st_mode & 0o777) == "0o700"
        assert oct((next(iter(created)) / "secrets.toml").stat().st_mode & 0o777) == "0o600"
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)  # casestream ui stops its Streamlit and removes the secrets
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()
    assert auth_folders() - before == set(), "the private secrets folder was left behind"


def sign_in(driver: webdriver.Chrome, ui: str, sub: str) -> None:
    driver.get(f"{ui}/")
    settle(driver, "Logga in med kommunens inloggning")
    # the button may come a moment after the text (the text stood on the page before it, after a sign-out)
    sign = (By.XPATH, "//button[.//p[text()='Logga in']]")
    WebDriverWait(driver, 30).until(ec.element_to_be_clickable(sign)).click()
    field = WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.NAME, "sub")))
    field.send_keys(sub)
    driver.find_element(By.XPATH, "//button[text()='Authorize']").click()
    settle(driver, "Personer snitt per dygn")


def nav(driver: webdriver.Chrome) -> list[str]:
    links = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a')
    return [a.text.strip() for a in links]


def access_events(store_url: str) -> list[AccessViewed]:
    store = open_store(store_url)
    try:
        return [e.data for e in store.read_all() if isinstance(e.data, AccessViewed)]
    finally:
        store.close()


@pytest.mark.timeout(300)
def test_sign_in_roles_access_events_and_the_log_review(ui: str, store_url: str,
                                                        browser: webdriver.Chrome) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    sign_in(browser, ui, "u-enhet-7f3a")
    assert "Beläggning" in nav(browser) and "Logguppföljning" not in nav(browser)
    assert "Inloggad, roll: Enhetsnivå" in browser.find_element(By.TAG_NAME, "body").text
    browser.get(f"{ui}/belaggning")
    settle(browser, "Beläggningsgrad per enhet och månad")
    browser.save_screenshot(str(ARTIFACTS / "ui-login-enhet.png"))
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stDownloadButton"]')
    seen = [e for e in access_events(store_url) if e.subject == "u-enhet-7f3a"]
    assert seen and {(e.view, e.role, e.level, e.channel) for e in seen} == {
        ("belaggning", "enhet", "unit", "ui")}

    browser.find_element(By.XPATH, "//button[.//p[text()='Logga ut']]").click()
    end_session = (By.XPATH, "//button[text()='End session']")  # the mock's end-session form
    WebDriverWait(browser, 30).until(ec.element_to_be_clickable(end_session)).click()
    settle(browser, "Logga in med kommunens inloggning")

    sign_in(browser, ui, "u-controller-2b9c")
    assert "Logguppföljning" in nav(browser)
    browser.get(f"{ui}/logguppfoljning")
    month = datetime.now(UTC).strftime("%Y-%m")
    settle(browser, f"Logguppföljning {month}")
    browser.save_screenshot(str(ARTIFACTS / "ui-login-logguppfoljning.png"))
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    result = subprocess.run([CASESTREAM, "report", "logguppfoljning", "--month", month, "--format", "json",
                             "--db", store_url], capture_output=True, text=True, timeout=120, check=True)
    rows = {r["subject"]: r for r in json.loads(result.stdout)}
    views = sum(1 for e in access_events(store_url) if e.subject == "u-enhet-7f3a")
    assert rows["u-enhet-7f3a"]["views"] == rows["u-enhet-7f3a"]["unit_views"] == views >= 1
    assert rows["u-controller-2b9c"]["views"] >= 1  # the log review page itself
