"""Role gating of the real app script under AppTest: the role setting with sign-in off, and `st.user` as
AppTest 1.67 seeds it (`AppTest.user`) with sign-in on (AppTest cannot run the OIDC flow itself; the
browser test does, tests/e2e/test_ui_login_browser.py).

A page a role may not see is not in the navigation, so `switch_page` to it fails; downloads are the
controller's; the log review counts the views the test made.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.store import open_store
from tests.unit import ui_seed

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
UNIT_PAGE, LOG_PAGE = "views/belaggning.py", "views/logguppfoljning.py"
DOWNLOADS = "download_button"


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    store = open_store(url)
    store.append(ui_seed.all_events())
    store.close()
    monkeypatch.setenv("CASESTREAM_DB", url)
    monkeypatch.setenv("CASESTREAM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CASESTREAM_AUTH_ROLE_CLAIM", "groups")
    monkeypatch.setenv("CASESTREAM_AUTH_ROLE_MAP", '{"cs-enhet": "enhet", "cs-controller": "controller"}')
    for name in ("CASESTREAM_AUTH_ENABLED", "CASESTREAM_AUTH_ROLE"):
        monkeypatch.delenv(name, raising=False)
    return url


def signed_in(monkeypatch: pytest.MonkeyPatch, user: dict[str, object]) -> AppTest:
    monkeypatch.setenv("CASESTREAM_AUTH_ENABLED", "true")
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.user = user
    return app.run()


def not_in_navigation(app: AppTest, path: str) -> bool:
    try:
        app.switch_page(path)
    except ValueError as exc:
        return "Could not find a navigation page" in str(exc)
    return False


def test_sign_in_off_gives_the_role_setting(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASESTREAM_AUTH_ROLE", "oversikt")
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception
    assert "Inloggning avstängd — roll: Översikt" in [c.value for c in app.sidebar.caption]
    assert not_in_navigation(app, UNIT_PAGE) and not_in_navigation(app, LOG_PAGE)
    app.switch_page("views/externa_kop.py").run()
    assert not app.exception and app.dataframe and not app.get(DOWNLOADS)  # the table, no downloads


def test_a_signed_out_session_sees_only_the_sign_in_page(store_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    app = signed_in(monkeypatch, {"is_logged_in": False})
    assert [t.value for t in app.title] == ["Logga in"] and app.button(key="log_in")
    assert not app.metric and not app.dataframe
    assert not_in_navigation(app, "views/oversikt.py")


def test_a_user_without_a_known_role_gets_only_a_message(store_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    app = signed_in(monkeypatch, {"is_logged_in": True, "sub": "u-7", "groups": ["cs-other"]})
    assert "ingen roll i casestream" in app.warning[0].value and not app.metric and not app.dataframe
    assert not_in_navigation(app, "views/oversikt.py")
    bad = signed_in(monkeypatch, {"is_logged_in": True, "sub": "anna@kommun.se", "groups": ["cs-enhet"]})
    assert "pseudonymt användar-id" in bad.warning[0].value and not bad.metric


def test_unit_level_sees_units_but_not_downloads_or_the_log(store_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    app = signed_in(monkeypatch, {"is_logged_in": True, "sub": "u-enhet", "groups": "cs-enhet",
                                  "email": "enhet@kommun.se", "name": "Enhets Chef"})
    assert not app.exception and app.metric  # Översikt
    assert "Inloggad, roll: Enhetsnivå" in [c.value for c in app.sidebar.caption]
    assert app.sidebar.button(key="log_out")
    assert not_in_navigation(app, LOG_PAGE)
    app.switch_page(UNIT_PAGE).run()
    assert not app.exception and app.dataframe and not app.get(DOWNLOADS)
    page_text = " ".join(str(e.value) for e in (*app.caption, *app.sidebar.caption, *app.markdown))
    assert "enhet@kommun.se" not in page_text and "Enhets Chef" not in page_text


def test_the_controller_reviews_the_views(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    viewer = signed_in(monkeypatch, {"is_logged_in": True, "sub": "u-enhet", "groups": "cs-enhet"})
    viewer.switch_page(UNIT_PAGE).run()
    viewer.selectbox(key="unit").set_value("U2").run()
    both = ["cs-enhet", "cs-controller"]
    app = signed_in(monkeypatch, {"is_logged_in": True, "sub": "u-ctl", "groups": both})
    app.switch_page(UNIT_PAGE).run()
    assert {b.proto.label for b in app.get(DOWNLOADS)} == {"Ladda ner CSV", "Ladda ner Excel"}
    app.switch_page(LOG_PAGE).run()
    assert not app.exception
    frame = app.dataframe[0].value.set_index("Användare (subjekt)")
    assert frame.loc["u-enhet", "Antal visningar"] == "2"  # all units, then U2
    assert frame.loc["u-enhet", "Antal olika enheter"] == "1"
    assert frame.loc["u-enhet", "Roll"] == "enhet"
    assert frame.loc["u-ctl", "Antal visningar"] == "2"  # Beläggning and this page itself
    assert frame.loc["Totalt", "Visningar på enhetsnivå"] == "3"
