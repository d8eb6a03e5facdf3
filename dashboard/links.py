"""Per-item URLs: ``?item=ID`` on the review queue opens that item, and the open item's id stays in the URL so
it can be copied into a note, a ticket or a message to another reviewer.

Opening a linked item is an ordinary claim (``review.claim``): the same tenant scope (another tenant's item
reads as missing) and the same lease rules (an item another reviewer holds is not opened, a decided one
neither); only the way the id arrives is new.
"""

from __future__ import annotations

import streamlit as st

from dashboard import context
from dashboard.review_state import review_state
from provenance import review
from provenance.settings import Settings

ITEM_PARAM = "item"


def open_linked_item(settings: Settings, name: str | None) -> None:
    """Claim the item named in the URL, unless this browser session has acted on or shown that id before; a
    refusal becomes the page's error message.

    Why "before" and not just "the open item": the browser may send the URL it had with its next request
    (a filter clicked right after Release, Skip or a decision reaches the server still carrying the old
    ``?item=ID``), and that must not reopen the item the reviewer just gave back, nor report a just-decided
    item as refused. A link to an item seen earlier in this tab opens in a new tab (or from the queue)."""
    wanted = st.query_params.get(ITEM_PARAM)
    if wanted is None:
        return
    state, scope = review_state(), context.scope()
    with state.lock:
        if not state.first_sight_of_link(wanted):
            return
        try:
            verdict_id = int(wanted)
        except ValueError:
            state.fail(f"The link names item {wanted[:40]!r}, which is not an item number.")
            return
        if state.item_id == verdict_id:
            return
        with context.session() as db:
            result = review.claim(db, verdict_id, name or "", settings.review_lease_seconds, tenant=scope)
        if result.ok:
            state.open(verdict_id)
        else:
            state.fail(f"Item {verdict_id} from the link: {result.message}")


def show_open_item() -> None:
    """Keep the URL in step with the open item (removed when none is open)."""
    state = review_state()
    current = state.item_id
    if current is None:
        if ITEM_PARAM in st.query_params:
            st.query_params.pop(ITEM_PARAM, None)
        return
    state.first_sight_of_link(str(current))  # the URL this page writes is never a new link
    st.query_params[ITEM_PARAM] = str(current)
