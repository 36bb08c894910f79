"""Sign-in settings → Streamlit's `[auth]` secrets (services.access_auth) and `casestream ui`'s checks."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services import access_auth, ui_command
from services.settings import Settings

ON = {"auth_enabled": True, "auth_server_metadata_url": "https://idp.example/.well-known/openid-configuration",
      "auth_client_id": "casestream", "auth_client_secret": 'se"cret\\x'}


def test_the_secrets_file_holds_the_auth_section_and_is_private(tmp_path: Path) -> None:
    settings = Settings(**ON, auth_cookie_secret="c00kie")  # type: ignore[arg-type]
    path = access_auth.write_secrets(settings, tmp_path, "127.0.0.1", 8600)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    auth = tomllib.loads(path.read_text(encoding="utf-8"))["auth"]
    assert auth == {"redirect_uri": "http://127.0.0.1:8600/oauth2callback", "cookie_secret": "c00kie",
                    "client_id": "casestream", "client_secret": 'se"cret\\x',
                    "server_metadata_url": ON["auth_server_metadata_url"]}
    again = tomllib.loads(access_auth.secrets_toml(Settings(**ON), "h", 1))["auth"]  # type: ignore[arg-type]
    assert len(again["cookie_secret"]) >= 32  # random when not set
    folder = access_auth.private_folder()
    try:
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
    finally:
        access_auth.remove(folder)
    assert not folder.exists()


def test_streamlit_reads_only_that_file() -> None:
    argv = ui_command.ui_argv(Settings(db="sqlite:///x.db"), port=8765, secrets_file=Path("/p/secrets.toml"))
    assert argv[-2:] == ["--secrets.files", "/p/secrets.toml"]
    assert "--secrets.files" not in ui_command.ui_argv(Settings(db="sqlite:///x.db"))
    assert ui_command.demo_components(Settings(db="sqlite:///d.db"))[0].argv == ui_command.ui_argv(
        Settings(db="sqlite:///d.db"))  # sign-in off: no secrets file


def test_incomplete_sign_in_settings_are_named() -> None:
    access_auth.check(Settings())  # off: nothing needed
    with pytest.raises(access_auth.AuthConfigError, match="CASESTREAM_AUTH_SERVER_METADATA_URL, "
                       "CASESTREAM_AUTH_CLIENT_ID, CASESTREAM_AUTH_CLIENT_SECRET are not set"):
        access_auth.check(Settings(auth_enabled=True))
    with pytest.raises(access_auth.AuthConfigError, match="REDIRECT_URI must be an absolute http"):
        access_auth.check(Settings(**ON, auth_redirect_uri="/oauth2callback"))  # type: ignore[arg-type]
    with pytest.raises(access_auth.AuthConfigError, match="'admins' maps to 'admin'"):
        access_auth.check(Settings(auth_role_map={"admins": "admin"}))


def test_casestream_ui_refuses_incomplete_sign_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "events.db"
    db.touch()
    monkeypatch.setenv("CASESTREAM_AUTH_ENABLED", "true")
    monkeypatch.delenv("CASESTREAM_AUTH_CLIENT_ID", raising=False)
    import typer

    app = typer.Typer()
    ui_command.register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["ui", "--db", f"sqlite:///{db}"])
    assert result.exit_code == 2 and "CASESTREAM_AUTH_CLIENT_ID" in result.output
