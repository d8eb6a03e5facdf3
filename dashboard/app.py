"""Streamlit entry script (``provenance dashboard`` runs ``streamlit run`` on it).

It signs the reviewer in, then hands over to the page the navigation picked. Pages live in ``views/`` as
thin scripts so Streamlit's URL routing and AppTest's ``switch_page`` both work on them.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import context
from dashboard.artifact_refresh import describe, refresh_artifacts
from provenance.errors import ProvenanceError

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(layout="wide")  # no page_title: each page's title becomes the browser title
pages = [st.Page(VIEWS / "queue.py", title="Review queue", default=True),
         st.Page(VIEWS / "jobs.py", title="Jobs", url_path="jobs"),
         st.Page(VIEWS / "stats.py", title="Stats", url_path="stats"),
         st.Page(VIEWS / "audit.py", title="Audit", url_path="audit")]
try:
    settings = context.load_settings()
    context.database_url()
except ProvenanceError as exc:
    context.show_error(exc)
    st.stop()
try:  # a store-fed dashboard follows promotions made on other hosts (at most every N seconds)
    arrived = describe(refresh_artifacts(settings))
    if arrived:
        st.sidebar.caption(arrived)
except ProvenanceError as exc:  # the pages still work on what the home has; say why it is not current
    st.warning(f"Bundles and keys could not be fetched from the store: {exc}")
if context.sign_in(settings) is None:
    st.stop()
st.navigation(pages).run()
