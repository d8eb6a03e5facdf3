"""The jobs page: scan jobs with progress and counters, refreshed every few seconds while it is open."""

from __future__ import annotations

import streamlit as st

from dashboard import context
from provenance import review

REFRESH_SECONDS = 5


@st.fragment(run_every=REFRESH_SECONDS)
def _jobs_table() -> None:
    """Only this fragment reruns on the timer, so the rest of the page (and the sidebar) stays still. Each
    timer run checks the session first (without counting as the reviewer's activity)."""
    if not context.fragment_session(activity=False):
        return
    with context.session() as db:
        rows = review.jobs(db, tenant=context.scope())
    if not rows:
        st.info("No scan jobs yet. Start one with the pipeline's scan command.")
        return
    running = sum(1 for r in rows if r["status"] in ("queued", "running"))
    st.caption(f"{len(rows)} job(s), {running} queued or running · refreshed every {REFRESH_SECONDS} s")
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
        "created": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm:ss", width="medium"),
        "job": st.column_config.TextColumn("job", width="medium"),
        "seconds": st.column_config.NumberColumn("seconds", format="%.1f", width="small"),
        "error": st.column_config.TextColumn("error", width="large")})


def render() -> None:
    _jobs_table()
