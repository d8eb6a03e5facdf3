"""Page script: Stats."""

import streamlit as st

from dashboard import context
from dashboard.stats import render

st.title("Stats")
context.guarded(render)
