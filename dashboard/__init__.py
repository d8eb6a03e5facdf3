"""Streamlit reviewer dashboard: queue with token-level evidence, decisions with an audit trail, jobs, stats.

It reads and writes only through ``provenance.review`` (the data layer), so the pages hold no SQL.
Run it with ``provenance dashboard``; ``dashboard/app.py`` is the Streamlit entry script.
"""
