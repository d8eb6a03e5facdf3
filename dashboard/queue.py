"""The review queue page: filters, the SQL-paginated list, "review next", and the open item."""

from __future__ import annotations

import streamlit as st

from dashboard import context, item, links
from dashboard.review_state import review_state
from provenance import review
from provenance.settings import Settings

PAGE_SIZE = review.DEFAULT_PAGE_SIZE
COUNT_CAP = 10_000


def _filters() -> review.QueueFilters:
    """Sidebar filters; changing any of them returns to the first page."""
    with st.sidebar:
        st.subheader("Filters")
        with context.session() as db:
            jobs = review.job_ids(db, tenant=context.scope())
            entity_types = review.entity_types_present(db, tenant=context.scope())
        status = st.radio("Queue", [review.STATUS_OPEN, review.STATUS_ESCALATED], horizontal=True, key="f-status")
        ordering = st.radio("Order", list(review.ORDERINGS), horizontal=True, key="f-order",
                            help="priority: most urgent first (the sum of the signals' shares, broken down on each "
                                 "item); uncertainty: P(machine) closest to 0.5 first, i.e. smallest |P - 0.5| "
                                 "(with a random share), the labels a retrain learns most from")
        job = st.selectbox("Job", ["(all)", *jobs], key="f-job")
        verdicts = st.multiselect("Verdict", list(review.VERDICTS), key="f-verdict")
        low, high = st.slider("P(machine) range", 0.0, 1.0, (0.0, 1.0), step=0.01, key="f-score")
        entity = st.selectbox("PII entity type", ["(any)", *entity_types], key="f-entity",
                              help="The entity types found in the verdicts you can see.")
        misuse = st.checkbox("Misuse flagged only", key="f-misuse")
    filters = review.QueueFilters(job_id=None if job == "(all)" else job, verdicts=tuple(verdicts), p_min=low,
                                  p_max=high, entity_type=None if entity == "(any)" else entity,
                                  misuse_only=misuse, status=status, ordering=ordering,
                                  tenant=context.scope()).validated()
    if st.session_state.get("queue-filters") != filters:
        st.session_state["queue-filters"] = filters
        st.session_state["queue-cursors"] = [None]
    return filters


MARGIN_HELP = ("Distance of P(machine) from the nearer of the bundle's machine/human thresholds (how close the "
               "verdict came to flipping). The uncertainty order sorts by |P - 0.5| instead: closeness to even odds.")
DOUBT_HELP = "|P(machine) - 0.5|: the uncertainty order's sort key (smallest first)."
# Pixel widths that fit every column beside the sidebar on a 1366-pixel screen (auto widths pushed "taken by"
# off the right edge); ids and names longer than their column show in full on hover.
QUEUE_COLUMNS = {
    "item": st.column_config.NumberColumn("item", width=55),
    "priority": st.column_config.NumberColumn("priority", width=62),
    "verdict": st.column_config.TextColumn("verdict", width=78),
    "P(machine)": st.column_config.ProgressColumn("P(machine)", min_value=0.0, max_value=1.0, format="%.2f",
                                                  width=100),
    "margin": st.column_config.NumberColumn("margin", help=MARGIN_HELP, format="%.3f", width=62),
    "|P-0.5|": st.column_config.NumberColumn("|P-0.5|", help=DOUBT_HELP, format="%.3f", width=62),
    "PII": st.column_config.TextColumn("PII", width=100),
    "watermark": st.column_config.TextColumn("watermark", width=75),
    "ledger": st.column_config.TextColumn("ledger", width=95),
    "misuse": st.column_config.TextColumn("misuse", width=55),
    "job": st.column_config.TextColumn("job", width=80),
    "taken by": st.column_config.TextColumn("taken by", width=90),
}


def _table(rows: list[review.QueueRow], ordering: str = "priority") -> None:
    if not rows:
        st.info("Nothing to review here: no item matches these filters.")
        return
    data = [{"item": r.id, "priority": round(r.review_priority, 3), "verdict": r.verdict,
             "P(machine)": None if r.p_machine is None else round(r.p_machine, 3),
             "margin": None if r.margin is None else round(r.margin, 3),
             **({"|P-0.5|": None if r.p_machine is None else round(abs(r.p_machine - 0.5), 3)}
                if ordering == "uncertainty" else {}),
             "PII": r.pii_types.strip(",").replace(",", ", "), "watermark": "yes" if r.watermarked else "",
             "ledger": r.ledger_manifest_id or "", "misuse": "yes" if r.misuse else "", "job": r.job_id or "",
             "taken by": r.taken_by or ""} for r in rows]
    st.dataframe(data, hide_index=True, width="stretch", column_config=QUEUE_COLUMNS)


def render() -> None:
    settings = context.load_settings()
    name = context.reviewer()
    filters = _filters()
    links.open_linked_item(settings, name)
    flash, failure = review_state().take_messages()
    if flash:
        st.success(flash)
    if failure:
        st.error(failure)
    item.undo_bar(settings, name)
    item.render(settings, name, filters)
    links.show_open_item()
    _queue_list(settings, name, filters)
    item.recent_decisions(name)


def previous_page(cursors: list, drawn_on: int) -> None:
    """"Previous page" callback. ``drawn_on`` is the page the button was drawn on: a double click (its second
    click carries the same page) moves back one page, and never past the first."""
    if len(cursors) == drawn_on and drawn_on > 1:
        cursors.pop()


def next_page(cursors: list, drawn_on: int, cursor: object) -> None:
    """"Next page" callback; as ``previous_page``, a double click moves one page."""
    if len(cursors) == drawn_on and cursor is not None:
        cursors.append(cursor)


@st.fragment
def _queue_list(settings: Settings, name: str | None, filters: review.QueueFilters) -> None:
    """The list and its paging. A fragment: "Next page" reruns and redraws only this part, not the sidebar
    or the open item (opening an item reruns the whole page). Each run checks the session first."""
    if not context.fragment_session():
        return
    cursors: list = st.session_state.setdefault("queue-cursors", [None])
    with context.session() as db:
        page = review.queue_page(db, filters, limit=PAGE_SIZE, after=cursors[-1])
        count = review.queue_count(db, filters, cap=COUNT_CAP)
    left, middle, right = st.columns([2, 2, 3])
    left.metric("Items in this queue", f"{count:,}" + ("+" if count >= COUNT_CAP else ""))
    middle.metric("Page", len(cursors))
    # Keyed by the open item, and told which item that was: a double click opens one item, not one and then a
    # skip of it (see item.open_next).
    drawn_with = review_state().item_id
    with right:
        if st.button("Review next item", type="primary", key=f"next-item-{drawn_with or 'none'}"):
            item.open_next(settings, name, filters, drawn_with)
    _table(page.rows, filters.ordering)
    prev_col, next_col, open_col, go_col = st.columns([1, 1, 2, 1], vertical_alignment="bottom")
    # Callbacks run before the rerun the click causes, so a page change costs one run, not two.
    prev_col.button("Previous page", disabled=len(cursors) <= 1, key="prev-page", on_click=previous_page,
                    args=(cursors, len(cursors)))
    next_col.button("Next page", disabled=page.next_cursor is None, key="next-page", on_click=next_page,
                    args=(cursors, len(cursors), page.next_cursor))
    ids = [r.id for r in page.rows]
    chosen = open_col.selectbox("Open item", ids, index=None, placeholder="item id on this page",
                                key="open-item-id")
    if go_col.button("Open", disabled=chosen is None, key="open-item"):
        item.open_item(settings, name, int(chosen))
