"""Streamlit's OIDC sign-in from the settings: the `[auth]` section of a private secrets file.

Streamlit (1.67) reads `st.login`'s provider from `[auth]` in its secrets, and the config option
`secrets.files` says where its secrets files are. `casestream ui` therefore writes one secrets file from
the `CASESTREAM_AUTH_*` settings into a private folder (a new temporary folder, mode 0700; the file
0600), starts Streamlit with `--secrets.files <that file>` and removes the folder when Streamlit exits.
Nothing is written into the working tree, and no other secrets file (`~/.streamlit/secrets.toml`,
`./.streamlit/secrets.toml`) is read while sign-in is on.

`[auth]` holds `server_metadata_url`, `client_id`, `client_secret`, `redirect_uri` (default
`http://<ui_host>:<port>/oauth2callback`) and `cookie_secret` (default: random per start, so sign-ins
end when the UI restarts). Sign-in on without a provider is an error naming the missing settings.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Final

from services.access_roles import check_role_map
from services.settings import Settings

SECRETS_NAME: Final = "secrets.toml"
REQUIRED: Final = ("server_metadata_url", "client_id", "client_secret")


class AuthConfigError(ValueError):
    """Sign-in is on but its settings are incomplete or wrong (the message names each setting)."""


def check(settings: Settings) -> None:
    """Refuse sign-in settings that cannot work, naming every CASESTREAM_AUTH_* variable at fault."""
    try:
        check_role_map(settings.auth_role_map)
    except ValueError as exc:
        raise AuthConfigError(str(exc)) from None
    if not settings.auth_enabled:
        return
    missing = [f"CASESTREAM_AUTH_{name.upper()}" for name in REQUIRED
               if not getattr(settings, f"auth_{name}")]
    if missing:
        raise AuthConfigError(f"sign-in is on (CASESTREAM_AUTH_ENABLED) but {', '.join(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} not set")
    for name, url in (("SERVER_METADATA_URL", settings.auth_server_metadata_url),
                      ("REDIRECT_URI", settings.auth_redirect_uri)):
        if url is not None and not url.startswith(("http://", "https://")):
            raise AuthConfigError(f"CASESTREAM_AUTH_{name} must be an absolute http(s) URL, got {url!r}")


def redirect_uri(settings: Settings, host: str, port: int) -> str:
    return settings.auth_redirect_uri or f"http://{host}:{port}/oauth2callback"


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def secrets_toml(settings: Settings, host: str, port: int) -> str:
    """The `[auth]` section Streamlit's `st.login()` reads (call `check` first)."""
    client_secret = settings.auth_client_secret.get_secret_value() if settings.auth_client_secret else ""
    cookie = settings.auth_cookie_secret
    values = {
        "redirect_uri": redirect_uri(settings, host, port),
        "cookie_secret": cookie.get_secret_value() if cookie else secrets.token_urlsafe(32),
        "client_id": settings.auth_client_id or "",
        "client_secret": client_secret,
        "server_metadata_url": settings.auth_server_metadata_url or "",
    }
    lines = ["[auth]", *(f"{key} = {_toml(value)}" for key, value in values.items())]
    return "\n".join(lines) + "\n"


def write_secrets(settings: Settings, folder: Path, host: str, port: int) -> Path:
    """The secrets file in `folder`, readable by its owner only (0600)."""
    path = folder / SECRETS_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets_toml(settings, host, port))
    os.chmod(path, 0o600)
    return path


def private_folder() -> Path:
    """A new folder only its owner can enter (0700), under the system's temporary directory."""
    return Path(tempfile.mkdtemp(prefix="casestream-ui-auth-"))


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def secrets_for_process(settings: Settings, host: str, port: int) -> Path | None:
    """The secrets file of a UI process started by someone else (the demo supervisor): written into a
    private folder that is removed when this process exits; None while sign-in is off."""
    if not settings.auth_enabled:
        return None
    check(settings)
    folder = private_folder()
    atexit.register(remove, folder)
    return write_secrets(settings, folder, host, port)
