"""The casestream Streamlit app: `streamlit run ui/app.py` (or `casestream ui`).

An `st.navigation` app built per session from its access (`ui.auth.current`, the rules in
`services.access_roles`): a signed-out session sees only the sign-in page, a signed-in user without a
known role only a message, and a role exactly its pages — Översikt, Externa köp, Aktualiseringar och
utredningar and Prognos for every role, Beläggning (per unit) from the role enhet, Logguppföljning for
the controller. Pages a role may not see are not in the navigation at all.

Each page lives in its own module under `ui/views/` (not `ui/pages/`: a `pages/` folder beside the
entrypoint switches Streamlit to its v1 multipage mode, which ignores `st.navigation`, names pages after
files and shows the entrypoint as a page). Each page starts with `ui.components.page_header` (or
`sidebar`), which puts the language toggle, the sign-in state, the period picker and the data
freshness in the sidebar. (They are drawn by the page, not here: elements the entrypoint draws before
`page.run()` are lost on reruns under AppTest with st.navigation.) Data come only from
`services.queries` through `ui.context`; the UI writes nothing and computes no KPI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import streamlit as st

from services.access_roles import Access
from ui import auth
from ui.i18n import t

VIEWS = Path(__file__).parent / "views"
# page key (services.access_roles.PAGES, also the url path) -> module under ui/views/, title key
PAGES: Final = {
    "oversikt": ("oversikt.py", "page_overview"),
    "externa-kop": ("externa_kop.py", "page_external"),
    "belaggning": ("belaggning.py", "page_occupancy"),
    "aktualiseringar": ("aktualiseringar.py", "page_cases"),
    "prognos": ("prognos.py", "page_forecast"),
    "logguppfoljning": ("logguppfoljning.py", "page_log_review"),
}
NO_ACCESS: Final = {"signed_out": (auth.sign_in_page, "login_title", "logga-in"),
                    "unknown_role": (auth.no_role_page, "no_role_title", "ingen-behorighet"),
                    "bad_subject": (auth.bad_subject_page, "no_role_title", "ingen-behorighet")}


def pages(access: Access) -> list[st.Page]:
    """The session's navigation: its role's pages (Översikt first, the default), or one page saying why."""
    if access.state != "ok":
        page, title, path = NO_ACCESS[access.state]
        return [st.Page(page, title=t(title), url_path=path, default=True)]
    out = []
    for key in access.pages():
        module, title = PAGES[key]
        out.append(st.Page(VIEWS / module, title=t(title), url_path=key, default=key == "oversikt"))
    return out


def main() -> None:
    st.set_page_config(page_title="casestream", layout="wide")
    st.navigation(pages(auth.current())).run()


main()
