"""Page script: Review queue."""

import streamlit as st

from dashboard import context
from dashboard.queue import render

st.title("Review queue")
context.guarded(render)
