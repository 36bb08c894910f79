"""The casestream Streamlit app: `streamlit run ui/app.py` (or `casestream ui`).

An `st.navigation` app; each page lives in its own module under `ui/views/` (not `ui/pages/`: a
`pages/` folder beside the entrypoint switches Streamlit to its v1 multipage mode, which ignores
`st.navigation`, names pages after files and shows the entrypoint as a page). Each page starts with
`ui.components.page_header`, which puts the language toggle, the period picker and the data freshness
(always visible, refreshed live) in the sidebar. (They are drawn by the page, not here: elements the
entrypoint draws before `page.run()` are lost on reruns under AppTest with st.navigation.) Data come
only from `services.queries` through `ui.context`; the UI writes nothing and computes no KPI.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.i18n import t

PAGES = Path(__file__).parent / "views"


def main() -> None:
    st.set_page_config(page_title="casestream", layout="wide")
    pages = [
        st.Page(PAGES / "oversikt.py", title=t("page_overview"), url_path="oversikt", default=True),
        st.Page(PAGES / "externa_kop.py", title=t("page_external"), url_path="externa-kop"),
        st.Page(PAGES / "belaggning.py", title=t("page_occupancy"), url_path="belaggning"),
        st.Page(PAGES / "aktualiseringar.py", title=t("page_cases"), url_path="aktualiseringar"),
        st.Page(PAGES / "prognos.py", title=t("page_forecast"), url_path="prognos"),
    ]
    st.navigation(pages).run()


main()
