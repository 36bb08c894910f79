"""Sign-in on screen: Streamlit's OIDC login (`st.login`, `st.user`, `st.logout`) and the role's pages.

The UI only asks: who the session is and what it may see come from `services.queries_access.
session_access` (the rules: `services.access_roles`), fed with the settings and `st.user` as a dict.
Only the token's `sub` (a pseudonymous subject) and the role claim are used; a name or an e-mail
address in the token is never shown or logged. With sign-in off (the demo) the sidebar says
"Inloggning avstängd" and every user has the role `CASESTREAM_AUTH_ROLE` (controller by default).

Pages a role may not see are not in the navigation at all (`ui/app.py` builds it per role). A
signed-out session gets only the sign-in page; a signed-in user without a known role, or with a
subject that is not a usable pseudonymous id, gets only a Swedish message and the sign-out button.
"""

from __future__ import annotations

import streamlit as st

from services.access_roles import ROLE_SV, Access
from ui import context
from ui.i18n import t


def current() -> Access:
    """The session's access, asked afresh on every run (st.user can change on login and logout)."""
    return context.access()


def sign_in_page() -> None:
    """The only page of a signed-out session: a button that starts the provider's sign-in."""
    st.sidebar.toggle(t("english"), key="lang_en")
    st.title(t("login_title"))
    st.write(t("login_text"))
    if st.button(t("log_in"), key="log_in", type="primary"):
        st.login()


def _no_access(text_key: str) -> None:
    st.sidebar.toggle(t("english"), key="lang_en")
    st.title(t("no_role_title"))
    st.warning(t(text_key))
    if st.button(t("log_out"), key="log_out"):
        st.logout()


def no_role_page() -> None:
    """A signed-in user whose token maps to no role: a message, nothing else."""
    _no_access("no_role")


def bad_subject_page() -> None:
    """A signed-in user whose subject (`sub`) cannot be logged as a pseudonymous id."""
    _no_access("bad_subject")


def sidebar_identity(access: Access) -> None:
    """Sign-in state in the sidebar: the role and a sign-out button, or "Inloggning avstängd"."""
    role = ROLE_SV[access.role] if access.role else "–"
    if not access.sign_in:
        st.sidebar.caption(f"{t('sign_in_off')} — {t('role').lower()}: {role}")
        return
    st.sidebar.caption(t("signed_in_as", role=role))
    if st.sidebar.button(t("log_out"), key="log_out"):
        st.logout()
