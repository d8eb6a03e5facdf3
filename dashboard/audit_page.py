"""The audit page: decision history from the append-only audit log, filterable, exportable as CSV."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import streamlit as st

from dashboard import context
from provenance import review


def render() -> None:
    with context.session() as db:
        actions = review.audit_actions(db)
    left, middle, right, last = st.columns(4)
    actor = left.text_input("Reviewer", key="audit-actor").strip() or None
    action = middle.selectbox("Action", ["(all)", *actions], key="audit-action")
    subject = right.text_input("Item id", key="audit-subject").strip() or None
    days = last.date_input("Date range (UTC)", value=(), key="audit-dates")
    since = until = None
    if isinstance(days, (tuple, list)) and days:
        since = datetime.combine(days[0], time.min)
        until = datetime.combine(days[-1], time.min) + timedelta(days=1)
    with context.session() as db:
        rows = review.audit_rows(db, actor=actor, action=None if action == "(all)" else action,
                                 subject_id=subject, since=since, until=until, limit=5000,
                                 tenant=context.scope())
    st.caption(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'} (newest first, at most 5,000)")
    st.download_button("Export CSV", review.audit_csv(rows), file_name="audit.csv", mime="text/csv",
                       key="audit-csv")
    st.dataframe([{**row, "details": str(row["details"])} for row in rows], hide_index=True, width="stretch")
