"""The item view: evidence for one claimed verdict and the decision buttons.

Opening an item claims it with a lease (renewed on every rerun while it stays open), so two reviewers never
work the same item; a reviewer who walks away loses the claim when the lease expires. A decision, its audit
row and the lease release are one transaction; then the next free item opens.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from dashboard import context, evidence, explain, highlight
from provenance import review
from provenance.errors import ProvenanceError
from provenance.settings import Settings

DECISION_BUTTONS = (("machine", "Machine-generated"), ("human", "Human"), ("misuse", "Misuse"),
                    ("escalate", "Escalate"))


def open_item(settings: Settings, name: str | None, verdict_id: int) -> None:
    """Claim ``verdict_id`` and show it, or say who holds it."""
    with context.session() as db:
        result = review.claim(db, verdict_id, name or "", settings.review_lease_seconds, tenant=context.scope())
    if result.ok:
        st.session_state["item_id"] = verdict_id
        st.rerun()
    st.warning(result.message)


def _claim_next(settings: Settings, name: str | None, filters: review.QueueFilters,
                skip: tuple[int, ...] = ()) -> None:
    with context.session() as db:
        result = review.claim_next(db, name or "", settings.review_lease_seconds, filters, skip=skip)
    st.session_state["item_id"] = result.verdict_id if result else None
    if result is None:
        st.session_state["flash"] = (st.session_state.get("flash") or "") + " The queue is empty."


def open_next(settings: Settings, name: str | None, filters: review.QueueFilters) -> None:
    _claim_next(settings, name, filters)
    st.rerun()


def _decide(settings: Settings, name: str, verdict_id: int, decision: str, filters: review.QueueFilters) -> None:
    """Button callback: runs before the rerun the click causes, so the next item is what that run draws.
    Errors become a message on that run (a callback's exception would otherwise be a traceback)."""
    note = str(st.session_state.get(f"note-{verdict_id}") or "")
    try:
        with context.session() as db:
            review.decide(db, verdict_id, name, decision, note, tenant=context.scope())
        st.session_state["flash"] = f"Recorded '{decision}' for item {verdict_id}."
        _claim_next(settings, name, filters, skip=(verdict_id,))
    except ProvenanceError as exc:
        st.session_state["flash-error"] = str(exc) + (f"  \nHint: {exc.hint}" if exc.hint else "")
        st.session_state["item_id"] = None
    except Exception as exc:  # never a traceback: one line, and the item closes
        st.session_state["flash-error"] = f"internal error: {exc.__class__.__name__}: {exc}".splitlines()[0]
        st.session_state["item_id"] = None


def _release(name: str, verdict_id: int) -> None:
    """Button callback: give the item back and close it."""
    try:
        with context.session() as db:
            review.release(db, verdict_id, name)
    except Exception as exc:
        st.session_state["flash-error"] = f"could not release item {verdict_id}: {exc}".splitlines()[0]
    st.session_state["item_id"] = None


def _watermark_panel(settings: Settings, verdict: Any, found: evidence.TokenEvidence) -> None:
    stored = verdict.watermark or {}
    st.markdown("**Watermark**")
    summary = found.summary or stored
    match = stored.get("provenance") if isinstance(stored.get("provenance"), dict) else None
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
    """Every registered signal without a panel of its own: its stored record, under its name, with the version
    that produced it (a signal added to the registry shows here without touching this file)."""
    versions = verdict.versions or {}
    for name, record in sorted((verdict.signals or {}).items()):
        st.markdown(f"**{name}**" + (f" · {versions[name]}" if versions.get(name) else ""))
        st.code(json.dumps(record, indent=2, ensure_ascii=False, sort_keys=True, default=str), language="json")


def render(settings: Settings, name: str | None, filters: review.QueueFilters) -> None:
    verdict_id = int(st.session_state["item_id"])
    with context.session() as db:
        scope = context.scope()
        lease = review.claim(db, verdict_id, name or "", settings.review_lease_seconds, tenant=scope)  # renew
        detail = review.item_detail(db, verdict_id, tenant=scope) if lease.ok else None
        matches = review.ledger_matches(db, settings, detail.text, tenant=scope) if detail and detail.text else []
        bodies = review.manifest_bodies(db, [m["manifest_id"] for m in matches])
    if not lease.ok or detail is None:
        st.warning(lease.message)
        st.session_state["item_id"] = None
        return
    verdict = detail.verdict
    p = "n/a" if verdict.p_machine is None else f"{verdict.p_machine:.3f}"
    with st.container(border=True):
        st.subheader(f"Item {verdict_id} · {verdict.verdict} · P(machine) {p}")
        st.caption(f"priority {verdict.review_priority:.3f} · job {verdict.job_id or '-'} · source "
                   f"{detail.source_id or '-'} · {lease.message}" + (" · misuse flagged" if verdict.misuse else ""))
        found = evidence.token_evidence(verdict.watermark, detail.text)
        spans = [(a, b) for a, b, _ in (found.spans or evidence.stored_spans(verdict.watermark))]
        text_col, side_col = st.columns([3, 2])
        with text_col:
            pii = [e for e in (verdict.pii or []) if isinstance(e, dict)]
            st.html(highlight.legend_html([str(e.get("type")) for e in pii]))
            st.html(highlight.evidence_html(detail.text, pii, found.tokens, spans))
            if verdict.reasons:
                st.caption("Reasons: " + "; ".join(str(r) for r in verdict.reasons))
        with side_col:
            explain.flags(settings, verdict, ledger_match=detail.manifest_id is not None)
            _watermark_panel(settings, verdict, found)
            _manifest_panel(settings, detail, matches, bodies)
            _signals_panel(verdict)
        for decision in detail.decisions:
            when = decision.created_at.strftime("%Y-%m-%d %H:%M")
            st.caption(f"Earlier: {decision.reviewer} decided {decision.decision} at {when} UTC"
                       + (f" ({decision.note})" if decision.note else ""))
        st.text_area("Note", key=f"note-{verdict_id}", max_chars=2000,
                            placeholder="Why? (stored with the decision)")
        columns = st.columns(len(DECISION_BUTTONS) + 1)
        for column, (decision, label) in zip(columns, DECISION_BUTTONS, strict=False):
            column.button(label, key=f"decide-{decision}", type="primary" if decision != "escalate" else "secondary",
                          on_click=_decide, args=(settings, name or "", verdict_id, decision, filters))
        columns[-1].button("Release", key="release-item", on_click=_release, args=(name or "", verdict_id))
