"""The item view: evidence for one claimed verdict and the decision buttons.

Opening an item claims it with a lease (renewed on every rerun while it stays open), so two reviewers never
work the same item; a reviewer who walks away loses the claim when the lease expires. A decision, its audit
row, the lease release and the claim of the next free item are one transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard import context, evidence, explain, highlight
from dashboard.review_state import LastDecision, ReviewState, review_state
from provenance import review
from provenance.errors import ProvenanceError
from provenance.settings import Settings
from provenance.signals.views import flat_view

DECISION_BUTTONS = (("machine", "Machine-generated"), ("human", "Human"), ("misuse", "Misuse"),
                    ("escalate", "Escalate"))
# One key each, shown on the buttons and in the line under them (Streamlit reserves C and R).
SHORTCUTS = {"machine": "M", "human": "H", "misuse": "X", "escalate": "E", "skip": "S", "undo": "U"}
# After a new item opens, Enter, Space and the shortcut keys do nothing for this long (and a held key's
# repeats never count), so a key pressed for the previous item cannot decide the new one unseen.
ARM_MS = 400


def open_item(settings: Settings, name: str | None, verdict_id: int) -> None:
    """Claim ``verdict_id`` and show it, or say who holds it."""
    state = review_state()
    with context.session() as db:
        result = review.claim(db, verdict_id, name or "", settings.review_lease_seconds, tenant=context.scope())
    if result.ok:
        state.open(verdict_id)
        st.rerun()
    st.warning(result.message)


def open_next(settings: Settings, name: str | None, filters: review.QueueFilters, drawn_with: int | None) -> None:
    """"Review next item": with an item open this is a skip (never the same item again). ``drawn_with`` is the
    item that was open when the button was drawn: the second click of a double click was drawn with the item
    the first click closed, so it does nothing instead of skipping the item the first click opened."""
    state = review_state()
    if drawn_with is not None:
        _skip(state, settings, name or "", drawn_with, filters)  # nothing unless ``drawn_with`` is still open
    else:
        _claim_first(state, settings, name or "", filters)
    st.rerun()


def _claim_first(state: ReviewState, settings: Settings, name: str, filters: review.QueueFilters) -> None:
    """Open the most urgent free item, unless one was opened since the button was drawn with none open."""
    with state.lock:
        if state.item_id is not None:
            return
        try:
            with context.session() as db:
                result = review.claim_next(db, name, settings.review_lease_seconds, filters)
        except Exception as exc:
            state.fail(_message(exc))
            return
        state.open(result.verdict_id if result else None)
        if result is None:
            state.note("The queue is empty.")


def _message(exc: Exception) -> str:
    """An error as one line for the page (a callback's exception would otherwise be a traceback)."""
    if isinstance(exc, ProvenanceError):
        return str(exc) + (f"  \nHint: {exc.hint}" if exc.hint else "")
    return f"internal error: {exc.__class__.__name__}: {exc}".splitlines()[0]


# The callbacks below take the session's ReviewState as an argument, hold its lock throughout and read every
# widget value they need before they write the store; after the write they change only that object (see
# dashboard.review_state for why). A click that reaches the server after the next item opened (a double Enter,
# a held key) carries the old item's id and is ignored.

def _decide(state: ReviewState, settings: Settings, name: str, scope: str | None, verdict_id: int, decision: str,
            filters: review.QueueFilters) -> None:
    """Button callback: runs before the rerun the click causes, so the next item is what that run draws. The
    decision, its audit row and the claim of the next item are one transaction."""
    with state.acting_on(verdict_id) as current:
        if not current:
            return
        note = str(st.session_state.get(f"note-{verdict_id}") or "")
        source = state.item_source.get(verdict_id)
        try:
            with context.session() as db:
                share = review.overlap_share_for(db, settings.review_overlap_share, scope)
                record = review.decide(db, verdict_id, name, decision, note, tenant=scope, overlap_share=share)
                following = review.claim_next(db, name, settings.review_lease_seconds, filters, skip=(verdict_id,))
        except Exception as exc:
            state.fail(_message(exc))
            state.open(None)
            return
        state.last_decision = LastDecision(record.id, verdict_id, decision, record.created_at)
        state.note(f"Recorded '{decision}' for item {verdict_id}" + (f" (source {source})." if source else "."))
        state.open(following.verdict_id if following else None)
        if following is None:
            state.note("The queue is empty.")


def _skip(state: ReviewState, settings: Settings, name: str, verdict_id: int, filters: review.QueueFilters) -> None:
    """Skip callback (and "Review next item" with an item open): release the item (audited ``review.skip``)
    and open a different one; items skipped earlier in this session come last."""
    with state.acting_on(verdict_id) as current:
        if not current:
            return
        skipped = state.skipped_before(verdict_id)
        try:
            with context.session() as db:
                result = review.skip(db, verdict_id, name, settings.review_lease_seconds, filters, avoid=skipped)
                if result is None and skipped:  # only skipped items left: hand those out again
                    result = review.claim_next(db, name, settings.review_lease_seconds, filters, skip=(verdict_id,))
        except Exception as exc:
            state.fail(_message(exc))
            state.open(None)
            return
        state.skipped = [*skipped, verdict_id]
        state.open(result.verdict_id if result else None)
        state.note(f"Skipped item {verdict_id}: it is back in the queue."
                   + ("" if result else " There is no other item to review."))


def _release(state: ReviewState, name: str, verdict_id: int) -> None:
    """Button callback: give the item back (audited) and close it."""
    with state.acting_on(verdict_id) as current:
        if not current:
            return
        try:
            with context.session() as db:
                released = review.release_item(db, verdict_id, name)
        except Exception as exc:
            state.fail(_message(exc))
        else:
            state.note(f"Released item {verdict_id}: it is back in the queue." if released else
                       f"Item {verdict_id} was no longer yours (the claim had expired); it is in the queue.")
        state.open(None)


def _undo(state: ReviewState, settings: Settings, name: str, scope: str | None) -> None:
    """Undo callback: the last decision is undone (audited ``review.undo``, the decision row kept), the item
    that opened after it goes back to the queue, and the undone item opens again."""
    with state.lock:
        last, current = state.last_decision, state.item_id
        if last is None:
            return
        state.last_decision = None
        try:
            with context.session() as db:
                review.undo(db, last.id, name, window_seconds=settings.review_undo_seconds, tenant=scope)
                if current is not None and current != last.verdict_id:
                    review.release(db, current, name)
                claimed = review.claim(db, last.verdict_id, name, settings.review_lease_seconds, tenant=scope)
        except Exception as exc:
            state.fail(_message(exc))
            return
        state.open(last.verdict_id if claimed.ok else None)
        state.note(f"Undid '{last.decision}' for item {last.verdict_id}: it is "
                   + ("open again." if claimed.ok else f"back in the queue ({claimed.message})."))


def undo_bar(settings: Settings, name: str | None) -> None:
    """The Undo button for the last decision, while it is younger than ``review_undo_seconds`` (the server
    checks the age again: a click just after the window closes is refused with a message)."""
    state = review_state()
    last = state.last_decision
    if last is None:
        return
    now = datetime.now(UTC).replace(tzinfo=None)  # decisions are stored in naive UTC
    if (now - last.at).total_seconds() > settings.review_undo_seconds:
        state.last_decision = None
        return
    st.button(f"Undo '{last.decision}' for item {last.verdict_id}", key="undo-last",
              shortcut=SHORTCUTS["undo"], on_click=_undo, args=(state, settings, name or "", context.scope()),
              help=f"Possible for {settings.review_undo_seconds:g} s after a decision; later, change it under "
                   "My recent decisions.")


def _change(state: ReviewState, name: str, scope: str | None, decision_id: int, decision: str) -> None:
    """"Change" callback under My recent decisions. The second click of a double click carries the decision the
    first one just replaced: it does nothing (it would be refused, an error after a change that worked)."""
    with state.lock:
        if not state.first_change_of(decision_id):
            return
        try:
            with context.session() as db:
                record = review.change(db, decision_id, name, decision, tenant=scope)
        except Exception as exc:
            state.fail(_message(exc))
        else:
            state.changed.append(decision_id)
            state.note(f"Changed your decision on item {record.verdict_id} to '{decision}'.")


def recent_decisions(name: str | None) -> None:
    """"My recent decisions": the reviewer's own latest decisions (with the source id, now that they are
    made), and a change of one of them (audited ``review.change``, the old decision kept)."""
    if not name:
        return
    with st.expander("My recent decisions"):
        with context.session() as db:
            rows = review.recent_decisions(db, name, limit=10, tenant=context.scope())
        if not rows:
            st.caption("No decisions yet.")
            return
        st.dataframe([{"item": r.verdict_id, "decision": r.decision, "at (UTC)": f"{r.created_at:%H:%M:%S}",
                       "source": r.source_id or "", "note": r.note or "",
                       "changeable": "yes" if r.changeable_to else ""} for r in rows],
                     hide_index=True, width="stretch")
        changeable = {r.decision_id: r for r in rows if r.changeable_to}
        if not changeable:
            st.caption("None of these can be changed (an item decided again since, or an escalation).")
            return
        left, middle, right = st.columns([2, 3, 1], vertical_alignment="bottom")
        chosen = left.selectbox("Decision to change", list(changeable), key="change-which",
                                format_func=lambda i: f"item {changeable[i].verdict_id}: {changeable[i].decision}")
        target = middle.radio("Change to", changeable[chosen].changeable_to, horizontal=True,
                              key=f"change-to-{chosen}")
        right.button("Change", key="change-decision", on_click=_change,
                     args=(review_state(), name, context.scope(), chosen, target))


def _focus_script(opening: str) -> None:
    """On a new item: scroll to the top, move the focus off every button (onto the item heading) and ignore
    Enter, Space and the shortcut keys for ``ARM_MS``; always: a clicked button gives up the focus at once and
    a held key's repeats are ignored. Together a second Enter can never land on the next item's button."""
    keys = "".join(sorted(k.lower() for k in SHORTCUTS.values()))
    st.html(f"""<script>(() => {{
  const item = {json.dumps(opening)}, armMs = {ARM_MS}, keys = "{keys}";
  const w = window, doc = document;
  if (w.__provItem !== item) {{
    w.__provItem = item;
    w.__provArmedUntil = Date.now() + armMs;
    if (doc.activeElement && doc.activeElement !== doc.body) doc.activeElement.blur();
    for (const sel of ['[data-testid="stMain"]', '[data-testid="stAppViewContainer"]',
                       '[data-testid="stAppScrollToBottomContainer"]', 'section.main']) {{
      const el = doc.querySelector(sel);
      if (el) el.scrollTop = 0;
    }}
    w.scrollTo(0, 0);
    const head = doc.querySelector('.st-key-item-card h3');
    if (head) {{ head.tabIndex = -1; head.style.outline = "none"; head.focus({{preventScroll: true}}); }}
  }}
  if (!w.__provGuard) {{
    w.__provGuard = true;
    doc.addEventListener('keydown', (e) => {{
      const t = e.target;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
      const k = (e.key || '').toLowerCase();
      if (!(k === 'enter' || k === ' ' || (k.length === 1 && keys.includes(k)))) return;
      if (e.repeat || Date.now() < (w.__provArmedUntil || 0)) {{ e.preventDefault(); e.stopImmediatePropagation(); }}
    }}, true);
    doc.addEventListener('click', (e) => {{
      const b = e.target && e.target.closest ? e.target.closest('button') : null;
      if (b) setTimeout(() => b.blur(), 0);
    }}, true);
  }}
}})();</script>""", unsafe_allow_javascript=True)


def _watermark_panel(settings: Settings, verdict: Any, found: evidence.TokenEvidence) -> None:
    stored = verdict.record("watermark") or {}
    st.markdown("**Watermark**")
    summary = found.summary or stored
    match = verdict.record("provenance") if isinstance(verdict.record("provenance"), dict) else None
    st.write(evidence.watermark_summary(summary))
    explain.watermark_threshold(summary)
    if match:
        st.caption(f"ledger match: {match.get('kind')} of manifest {match.get('manifest_id')} "
                   f"(similarity {match.get('similarity')})")
    if found.note:
        st.caption(found.note)


def _manifest_panel(settings: Settings, detail: review.ItemDetail, matches: list[Any],
                    bodies: dict[str, dict[str, Any]]) -> None:
    st.markdown("**Ledger**")
    if detail.manifest is not None:
        ok, reason = evidence.manifest_status(settings, detail.manifest)
        (st.success if ok else st.error)(f"Manifest {detail.manifest.get('id')}: {reason}")
        with st.expander("Manifest"):
            st.json({k: v for k, v in detail.manifest.items() if k != "minhash"}, expanded=False)
    elif detail.verdict.watermarked:
        st.warning("The pipeline found a watermark, but no manifest in the ledger matches this text.")
    else:
        st.caption("No ledger match.")
    if matches:
        st.markdown("Near-duplicate and containment ledger matches")
        st.dataframe([{"manifest": m["manifest_id"], "kind": m["kind"], "similarity": round(m["similarity"], 3),
                       "model": (bodies.get(m["manifest_id"], {}).get("model") or {}).get("name"),
                       "requester": bodies.get(m["manifest_id"], {}).get("requester")} for m in matches],
                     hide_index=True, column_config=explain.LEDGER_COLUMNS)
    else:
        st.caption("No near-duplicate or containment ledger matches.")


def _signals_panel(verdict: Any) -> None:
    """Every stored signal record without a panel of its own (the signals that declare no flat keys, as in the
    export's ``signals`` object): under its name, with the version that produced it (a signal added to the
    registry shows here without touching this file)."""
    versions = verdict.versions or {}
    _flat, others = flat_view(verdict.signals, "api")
    for name, record in sorted(others.items()):
        st.markdown(f"**{name}**" + (f" · {versions[name]}" if versions.get(name) else ""))
        st.code(json.dumps(record, indent=2, ensure_ascii=False, sort_keys=True, default=str), language="json")


def _decision_bar(state: ReviewState, settings: Settings, name: str, scope: str | None, verdict_id: int,
                  filters: review.QueueFilters) -> None:
    """The decision controls, drawn right under the item's heading so they are on screen without scrolling
    (1366x768). Keys carry the item id: a click meant for the previous item never reaches this one."""
    with st.container(horizontal=True, key="decision-bar"):
        for decision, label in DECISION_BUTTONS:
            st.button(label, key=f"decide-{decision}-{verdict_id}", shortcut=SHORTCUTS[decision],
                      type="primary" if decision != "escalate" else "secondary",
                      on_click=_decide, args=(state, settings, name, scope, verdict_id, decision, filters))
        st.button("Skip", key=f"skip-{verdict_id}", shortcut=SHORTCUTS["skip"], on_click=_skip,
                  args=(state, settings, name, verdict_id, filters), help="Release this item and open a different one")
        st.button("Release", key=f"release-{verdict_id}", on_click=_release, args=(state, name, verdict_id),
                  help="Give the item back and close it")
    st.caption("Keys: " + " · ".join(f"**{key}** {what}" for what, key in SHORTCUTS.items())
               + " (not while typing a note). Escalate hands the item to another reviewer.")
    st.text_area("Note", key=f"note-{verdict_id}", max_chars=2000, height=68,
                 placeholder="Why? (stored with the decision)")


def render(settings: Settings, name: str | None, filters: review.QueueFilters) -> None:
    state = review_state()
    if state.item_id is None:
        return
    verdict_id = state.item_id
    with context.session() as db:
        scope = context.scope()
        lease = review.claim(db, verdict_id, name or "", settings.review_lease_seconds, tenant=scope)  # renew
        detail = review.item_detail(db, verdict_id, tenant=scope) if lease.ok else None
        matches = review.ledger_matches(db, settings, detail.text, tenant=scope) if detail and detail.text else []
        bodies = review.manifest_bodies(db, [m["manifest_id"] for m in matches])
    if not lease.ok or detail is None:
        st.warning(lease.message)
        state.open(None)
        return
    verdict = detail.verdict
    # The source id can bias a reviewer ("human-corpus-7"): kept for the message after the decision.
    state.item_source = {verdict_id: detail.source_id}
    p = "n/a" if verdict.p_machine is None else f"{verdict.p_machine:.3f}"
    with st.container(border=True, key="item-card"):
        st.subheader(f"Item {verdict_id} · {verdict.verdict} · P(machine) {p}", anchor=False)
        # Before the buttons: the arming period starts as they appear, not after the evidence is drawn.
        _focus_script(f"{verdict_id}-{state.item_serial}")
        _decision_bar(state, settings, name or "", scope, verdict_id, filters)
        st.caption(f"priority {verdict.review_priority:.3f} · job {verdict.job_id or '-'} · {lease.message}"
                   + (" · misuse flagged" if verdict.misuse else ""))
        watermark = verdict.record("watermark")
        found = evidence.token_evidence(watermark, detail.text)
        spans = [(a, b) for a, b, _ in (found.spans or evidence.stored_spans(watermark))]
        reasons = (verdict.record("detection") or {}).get("reasons")
        text_col, side_col = st.columns([3, 2])
        with text_col:
            pii = [e for e in (verdict.record("pii") or {}).get("items") or [] if isinstance(e, dict)]
            st.html(highlight.legend_html([str(e.get("type")) for e in pii]))
            st.html(highlight.evidence_html(detail.text, pii, found.tokens, spans))
            if reasons:
                st.caption("Reasons: " + "; ".join(str(r) for r in reasons))
        with side_col:
            explain.flags(settings, verdict, ledger_match=detail.manifest_id is not None)
            _watermark_panel(settings, verdict, found)
            _manifest_panel(settings, detail, matches, bodies)
            _signals_panel(verdict)
        if verdict.review_status == review.STATUS_OVERLAP:
            st.caption("Second opinion: another reviewer decided this item; decide independently (their "
                       "decision shows after yours).")
        else:
            for decision in detail.decisions:
                when = decision.created_at.strftime("%Y-%m-%d %H:%M")
                st.caption(f"Earlier: {decision.reviewer} decided {decision.decision} at {when} UTC"
                           + (f" ({decision.note})" if decision.note else ""))
