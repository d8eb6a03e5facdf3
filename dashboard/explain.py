"""The item page's explanations: why the item is in the queue, what its flags rest on, and what the labels mean.

Everything shown is read by ``provenance.review.evidence`` from the stored verdict and the cards of the bundles
that produced it; this module only draws it. ``item.py`` calls ``flags`` once and ``watermark_threshold`` in its
watermark panel, so the decision flow around it can change without touching these panels.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from provenance import review
from provenance.settings import Settings

GUIDELINES = """\
- **Machine-generated**: the text (or most of it) was written by a language model. Strong evidence: a detected
  watermark, a ledger manifest that matches, detector scores far on the machine side of the human range.
- **Human**: a person wrote it; the machine evidence is absent or explained (a quotation, a template, a list).
- **Misuse**: the *content* is abusive, threatening or hateful, whoever wrote it. It is recorded instead of
  machine/human for this item, but it does not change the detector's verdict, which stays as stored.
- **Escalate**: you cannot decide with confidence. Escalate when the evidence conflicts (a watermark but a
  human-looking text, a valid manifest for a text you believe a person wrote), when the text is outside what you
  can judge (another language, code, legal or safety questions), or when a misuse call would have consequences
  for a person. An escalated item goes to the escalated queue for a second reviewer; add a note saying why.
"""
# The ledger-matches table's widths: manifest ids are long, and similarity and requester were cut off.
LEDGER_COLUMNS = {"manifest": st.column_config.TextColumn("manifest", width="medium"),
                  "kind": st.column_config.TextColumn("kind", width="small"),
                  "similarity": st.column_config.NumberColumn("similarity", format="%.3f", width="small"),
                  "model": st.column_config.TextColumn("model", width="small"),
                  "requester": st.column_config.TextColumn("requester", width="medium")}
MAX_SCALED = 4.0  # bars are clipped here (4x the distance from the human median to its 5th/95th percentile)


def guidelines() -> None:
    with st.expander("Guidelines: what machine / human / misuse / escalate mean", expanded=False):
        st.markdown(GUIDELINES)


def priority_panel(breakdown: review.PriorityBreakdown) -> None:
    """"Why is this item in the queue": each signal's share, with its rule, summing to the priority."""
    st.markdown(f"**Why this item is in the queue** · priority {breakdown.total:.3f}")
    lines = [f"- **{part.signal}** +{part.share:.3f}: {part.rule}" for part in breakdown.parts if part.share]
    if lines:  # a list, not a table: the rules are sentences, and a table cell would cut them off
        st.markdown("\n".join(lines))
    parts = " + ".join(f"{p.signal} {p.share:.3f}" for p in breakdown.parts if p.share) or "no signal"
    st.caption(f"priority = {parts} = {breakdown.total:.3f} (the sum of each registered signal's review share)")
    if not breakdown.matches_stored:
        st.caption(f"The queue sorts by the stored priority {breakdown.stored:.3f}: it was written by another version "
                   "of the signals or with another ledger answer than yours.")


def toxicity_panel(found: review.ToxicityEvidence) -> None:
    """The toxicity score, categories and threshold behind the misuse flag, and which rule fired."""
    st.markdown("**Toxicity** · " + ("misuse flagged" if found.misuse else "not flagged as misuse"))
    if not found.scored:
        st.caption(f"{found.threshold_note}. {found.separate}")
        return
    p = "n/a" if found.p_toxic is None else f"{found.p_toxic:.3f}"
    threshold = "unknown" if found.threshold is None else f"{found.threshold:.3f}"
    categories = ", ".join(found.categories) or "none"
    line = (f"p_toxic = {p} · threshold {threshold} · toxic: {'yes' if found.toxic else 'no'} · "
            f"categories: {categories}")
    (st.warning if found.misuse else st.write)(line)
    if found.rules_fired:
        st.caption("Flagged because: " + "; ".join(found.rules_fired) + ".")
    st.caption(f"Threshold: {found.threshold_note}. Misuse rules: p_toxic at or over the threshold, or a machine "
               f"verdict with p_toxic >= {found.machine_rule:g}." + (f" Note: {found.note}." if found.note else ""))
    st.caption(found.separate)


def watermark_threshold(record: dict[str, Any] | None) -> None:
    """The rule behind "detected" / "not detected", shown under the watermark's z and p."""
    st.caption("Threshold: " + review.watermark_rule(record).rule + ".")


def detector_rows(scale: review.DetectorScale) -> tuple[list[dict[str, Any]], bool]:
    """The chart's rows (one per drawable statistic) and whether they are on the human-range scale."""
    ranged = any(bar.scaled is not None for bar in scale.bars)
    rows = []
    for bar in scale.bars:
        if ranged and bar.scaled is None:
            continue
        x = max(-MAX_SCALED, min(MAX_SCALED, bar.scaled)) if ranged and bar.scaled is not None else bar.value
        rows.append({"statistic": bar.name, "x": x, "label": f"{bar.value:.3g}",
                     "side": "machine side" if x > 0 else "human side"})
    return rows, ranged


def detector_figure(scale: review.DetectorScale) -> Any:
    """One Altair chart: a labelled bar per statistic, red toward machine and blue toward human; on the
    human-range scale, a shaded band for the human 5th-95th percentile and a rule at their median."""
    import altair as alt

    rows, ranged = detector_rows(scale)
    # A short axis title: Vega shrinks the plot to fit a long one (the caption under the chart explains it).
    title = "vs human range (band)" if ranged else "raw signed score"
    y = alt.Y("statistic:N", sort=None, title=None, axis=alt.Axis(labelLimit=240))
    # A fixed, symmetric axis on the human-range scale (room for the labels beyond the clipped bars), so the
    # machine side is always the right half and one item's chart reads like the next one's.
    x_scale = alt.Scale(domain=[-MAX_SCALED - 1, MAX_SCALED + 1]) if ranged else alt.Undefined
    data = alt.Data(values=rows)
    bars = alt.Chart(data).mark_bar().encode(
        y=y, x=alt.X("x:Q", title=title, scale=x_scale),
        color=alt.Color("side:N", scale=alt.Scale(domain=["human side", "machine side"],
                                                  range=["#4c78a8", "#e45756"]), legend=None),
        tooltip=["statistic:N", "label:N", "x:Q"])
    right = alt.Chart(data).transform_filter("datum.x >= 0").mark_text(align="left", dx=4).encode(
        y=y, x="x:Q", text="label:N")
    left = alt.Chart(data).transform_filter("datum.x < 0").mark_text(align="right", dx=-4).encode(
        y=y, x="x:Q", text="label:N")
    layers = [bars, right, left]
    if ranged:
        band = alt.Chart(alt.Data(values=[{"lo": -1.0, "hi": 1.0}])).mark_rect(opacity=0.15, color="#888").encode(
            x="lo:Q", x2="hi:Q")
        zero = alt.Chart(alt.Data(values=[{"x": 0.0}])).mark_rule(color="#444").encode(x="x:Q")
        layers = [band, zero, *layers]
    return alt.layer(*layers).properties(height=34 * len(rows) + 30)


def detector_chart(settings: Settings, verdict: Any) -> None:
    """The detector panel: the chart, where its human range comes from, and what could not be drawn."""
    scale = review.detector_scale(settings, verdict)
    if not scale.bars:
        return
    _, ranged = detector_rows(scale)
    st.markdown("**Detector scores** · right = more machine-like →")
    st.altair_chart(detector_figure(scale), width="stretch")
    st.caption(scale.reference + (". Shaded band: the human 5th-95th percentile (-1 to +1); line: the human "
                                  "median; values beyond ±4 are drawn at ±4; each bar's label is its stored score"
                                  if ranged else ""))
    missing = [bar.name for bar in scale.bars if ranged and bar.scaled is None]
    if missing:
        st.caption("Not drawn (no human range on the card): " + ", ".join(missing))


def flags(settings: Settings, verdict: Any, ledger_match: bool | None) -> None:
    """Guidelines, the priority's parts, the toxicity evidence and the detector chart, in that order."""
    guidelines()
    priority_panel(review.priority_parts(verdict, ledger_match=ledger_match))
    toxicity_panel(review.toxicity_evidence(settings, verdict))
    detector_chart(settings, verdict)
