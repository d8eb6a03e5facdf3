"""Streamlit reviewer dashboard; reads through `provenance`. Filled in by the dashboard issue."""
