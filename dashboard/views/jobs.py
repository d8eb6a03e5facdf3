"""Page script: Jobs."""

import streamlit as st

from dashboard import context
from dashboard.jobs import render

st.title("Jobs")
context.guarded(render)
