"""Page script: Audit."""

import streamlit as st

from dashboard import context
from dashboard.audit_page import render

st.title("Audit")
context.guarded(render)
