"""The stats page: verdict distribution, score histograms, decisions over time, reviewer agreement.

Aggregates are GROUP BYs in the database, cached for a short while so a busy page does not rescan 100,000
verdicts on every widget change.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import context
from provenance import review

CACHE_SECONDS = 30


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Aggregating verdicts...")
def _aggregates(url: str, tenant: str | None) -> dict[str, Any]:
    """Cached per database *and tenant*: one tenant's figures are never served to another's reviewer."""
    with context.session() as db:
        return {"counts": review.review_counts(db, tenant=tenant),
                "distribution": review.verdict_distribution(db, tenant=tenant),
                "p_hist": review.score_histogram(db, "p_machine", tenant=tenant),
                "z_hist": review.score_histogram(db, "watermark_z", bins=28, low=-4.0, high=10.0, tenant=tenant),
                "over_time": review.decisions_over_time(db, tenant=tenant),
                "agreement": review.agreement(db, tenant=tenant),
                "reviewers": review.reviewer_agreement(db, tenant=tenant),
                "retrain": review.retrain_labels(db)}


def render() -> None:
    data = _aggregates(context.database_url(), context.scope())
    counts = data["counts"]
    columns = st.columns(4)
    for column, (label, key) in zip(columns, (("Verdicts", "verdicts"), ("Open in queue", "open"),
                                              ("Escalated", "escalated"), ("Decided", "decided")), strict=True):
        column.metric(label, f"{counts[key]:,}")
    left, right = st.columns(2)
    with left:
        st.markdown("**Verdict distribution**")
        st.bar_chart(data["distribution"], height=240)
        st.markdown("**Watermark z-score histogram**")
        _histogram(data["z_hist"], "{:+.1f}", "z-score (bin start)")
    with right:
        st.markdown("**P(machine) histogram**")
        _histogram(data["p_hist"], "{:.2f}", "P(machine) (bin start)")
        st.markdown("**Decisions over time**")
        series: dict[str, dict[str, int]] = {}
        for day, decision, n in data["over_time"]:
            series.setdefault(decision, {})[day] = n
        if series:
            st.bar_chart(series, height=240, stack=True)
        else:
            st.caption("No decisions in the last 30 days.")
    _learning(data["retrain"], review.last_promotion(context.load_settings()))
    agreement = data["agreement"]
    st.markdown("**Reviewer agreement with the model, and between reviewers**")
    rate = agreement["agreement"]
    model_col, raw_col, kappa_col = st.columns(3)
    model_col.metric("Agreement with the model (machine/human decisions on machine/human verdicts)",
                     "n/a" if rate is None else f"{rate:.0%}", help=f"{agreement['sided']} comparable decisions")
    _reviewer_agreement(raw_col, kappa_col, data["reviewers"])
    if agreement["table"]:
        _agreement_chart(agreement["table"])


def _histogram(bins: list[tuple[float, int]], label: str, title: str) -> None:
    """Bars in numeric order of their bin (a dict of labels is sorted as text: "+9.5" before "-0.5")."""
    import altair as alt

    rows = [{"bin": label.format(start), "count": int(n)} for start, n in sorted(bins)]
    order = [row["bin"] for row in rows]
    chart = alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        x=alt.X("bin:O", sort=order, title=title, axis=alt.Axis(labelAngle=-90)),
        y=alt.Y("count:Q", title="verdicts"), tooltip=["bin:O", "count:Q"])
    st.altair_chart(chart.properties(height=240), width="stretch")


def _agreement_chart(table: list[dict[str, Any]]) -> None:
    """Model verdict x reviewer decision, stacked; the legend sits below the bars so nothing is cut off."""
    import altair as alt

    chart = alt.Chart(alt.Data(values=table)).mark_bar().encode(
        x=alt.X("model:N", title="model verdict", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("count:Q", title="decisions"),
        color=alt.Color("reviewer:N", title="reviewer decision", legend=alt.Legend(orient="bottom")),
        tooltip=["model:N", "reviewer:N", "count:Q"])
    st.altair_chart(chart.properties(height=280), width="stretch")


def _reviewer_agreement(raw_col: Any, kappa_col: Any, pairs: dict[str, Any]) -> None:
    """Inter-reviewer agreement on items two reviewers decided (overlap sampling, settled escalations)."""
    share = context.load_settings().review_overlap_share
    help_text = (f"{pairs['items']} items decided by two reviewers (overlap sampling: {share:.0%} of items get a "
                 "second, independent decision; settled escalations count too)")
    raw_col.metric("Agreement between reviewers", "n/a" if pairs["agreement"] is None else
                   f"{pairs['agreement']:.0%}", help=help_text)
    kappa_col.metric("Cohen's kappa between reviewers", "n/a" if pairs["kappa"] is None else f"{pairs['kappa']:.2f}",
                     help="Agreement beyond what the two label distributions give by chance: 1 perfect, 0 chance "
                          "level. " + help_text)


def _learning(labels: dict[str, Any], promotion: dict[str, Any] | None) -> None:
    """What the next retrain would learn from, and what the last promotion changed."""
    st.markdown("**Learning from reviews**")
    left, middle, right = st.columns(3)
    left.metric("Labels for the next retrain", f"{labels['text_kept']:,}",
                help=f"{labels['machine']} machine / {labels['human']} human decisions; "
                     f"{labels['redacted_only']} with redacted text only; {labels['disagreements']} disagreements "
                     "left out")
    if promotion is None:
        middle.caption("No bundle promoted yet: provenance detect retrain --from-reviews --out NAME, then "
                       "provenance detect promote NAME.")
        return
    middle.metric("Active bundle", promotion["name"], help=f"{promotion['kind']} at {promotion['at']}, "
                  f"previously {promotion.get('previous')}")
    before, after = promotion.get("before") or {}, promotion.get("after") or {}
    if before.get("reviewed_auroc") is not None and after.get("reviewed_auroc") is not None:
        right.metric("Held-back reviewed AUROC", f"{after['reviewed_auroc']:.3f}",
                     delta=f"{after['reviewed_auroc'] - before['reviewed_auroc']:+.3f} vs before")
    rows = [{"base domain left out": domain, "AUROC before": before.get("base_left_out_auroc", {}).get(domain),
             "AUROC after": value} for domain, value in (after.get("base_left_out_auroc") or {}).items()]
    if rows:
        st.dataframe(rows, hide_index=True)
