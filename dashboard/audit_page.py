"""The audit page: decision history from the append-only audit log, filterable, exportable as CSV."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import streamlit as st

from dashboard import context
from provenance import review


def render() -> None:
    with context.session() as db:
        actions = review.audit_actions(db)
    left, middle, right, last = st.columns([1, 2, 1, 1])
    prefix = left.text_input("Reviewer (name or its start)", key="audit-actor",
                             help="Rows whose actor starts with this text (case-insensitive).").strip() or None
    chosen = middle.multiselect("Actions", actions, default=review.review_actions(actions), key="audit-actions",
                                help="By default the reviewers' own actions; add generate/verify/scan rows here. "
                                     "Empty: every action.")
    subject = right.text_input("Item id", key="audit-subject").strip() or None
    days = last.date_input("Date range (UTC)", value=(), key="audit-dates")
    since = until = None
    if isinstance(days, (tuple, list)) and days:
        since = datetime.combine(days[0], time.min)
        until = datetime.combine(days[-1], time.min) + timedelta(days=1)
    with context.session() as db:
        rows = review.audit_rows(db, actor_prefix=prefix, actions=chosen or None, subject_id=subject, since=since,
                                 until=until, limit=5000, tenant=context.scope())
    st.caption(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'} (newest first, at most 5,000)")
    st.download_button("Export CSV", review.audit_csv(rows), file_name="audit.csv", mime="text/csv",
                       key="audit-csv")
    st.dataframe([{**row, "details": str(row["details"])} for row in rows], hide_index=True, width="stretch",
                 column_config={"at": st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm:ss",
                                                                      width="medium"),
                                "actor": st.column_config.TextColumn("actor", width="medium"),
                                "action": st.column_config.TextColumn("action", width="medium"),
                                "note": st.column_config.TextColumn("note", width="large"),
                                "details": st.column_config.TextColumn("details", width="large")})
