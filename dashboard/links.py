"""Per-item URLs: ``?item=ID`` on the review queue opens that item, and the open item's id stays in the URL so
it can be copied into a note, a ticket or a message to another reviewer.

Opening a linked item is an ordinary claim (``review.claim``): the same tenant scope (another tenant's item
reads as missing) and the same lease rules (an item another reviewer holds is not opened, a decided one
neither); only the way the id arrives is new.
"""

from __future__ import annotations

import streamlit as st

from dashboard import context
from provenance import review
from provenance.settings import Settings

ITEM_PARAM = "item"
HANDLED_KEY = "item-link-handled"  # the link value already acted on in this browser session


def open_linked_item(settings: Settings, name: str | None) -> None:
    """Claim the item named in the URL once per link value; a refusal becomes the page's error message."""
    wanted = st.query_params.get(ITEM_PARAM)
    if wanted is None or st.session_state.get(HANDLED_KEY) == wanted:
        return
    st.session_state[HANDLED_KEY] = wanted
    try:
        verdict_id = int(wanted)
    except ValueError:
        st.session_state["flash-error"] = f"The link names item {wanted[:40]!r}, which is not an item number."
        return
    if st.session_state.get("item_id") == verdict_id:
        return
    with context.session() as db:
        result = review.claim(db, verdict_id, name or "", settings.review_lease_seconds, tenant=context.scope())
    if result.ok:
        st.session_state["item_id"] = verdict_id
    else:
        st.session_state["flash-error"] = f"Item {verdict_id} from the link: {result.message}"


def show_open_item() -> None:
    """Keep the URL in step with the open item (removed when none is open)."""
    current = st.session_state.get("item_id")
    if current is None:
        if ITEM_PARAM in st.query_params:
            st.query_params.pop(ITEM_PARAM, None)
        st.session_state[HANDLED_KEY] = None
        return
    st.query_params[ITEM_PARAM] = str(current)
    st.session_state[HANDLED_KEY] = str(current)
