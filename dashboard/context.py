"""Per-session plumbing shared by every page: settings, the database, the signed-in reviewer, error display.

Settings come from the environment (``provenance dashboard`` passes the data directory and database URL
through it), so the dashboard reads exactly the store the CLI and the pipeline write.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError
from provenance.settings import Settings

REVIEWER_KEY = "reviewer"


def load_settings() -> Settings:
    """Fresh settings each run (cheap), so an edited environment or TOML needs no server restart logic."""
    from provenance.settings import load_settings as load

    return load()


@st.cache_resource(show_spinner=False)
def _schema_ready(url: str) -> bool:
    """Upgrade the schema once per server process and URL (workers and the CLI do the same)."""
    from provenance.review import ensure_store

    ensure_store(url)
    return True


def database_url() -> str:
    url = load_settings().resolved_database_url
    _schema_ready(url)
    return url


@contextmanager
def session() -> Iterator[Session]:
    """One transaction against the configured store."""
    from provenance.review import open_session

    with open_session(database_url()) as db:
        yield db


def show_error(exc: BaseException) -> None:
    """A user-facing error as a message and a hint, never a traceback."""
    hint = getattr(exc, "hint", None)
    st.error(f"{exc}" + (f"  \nHint: {hint}" if hint else ""))


def guarded(render: Callable[[], Any]) -> None:
    """Run a page body; application errors become a message instead of Streamlit's red traceback box."""
    try:
        render()
    except ProvenanceError as exc:
        show_error(exc)
    except Exception as exc:  # an unexpected failure still gets one line (the server log has the details)
        st.error(f"internal error: {exc.__class__.__name__}: {exc}".splitlines()[0])


def password_ok(settings: Settings, given: str) -> bool:
    """Constant-time comparison with the optional shared password (no password configured: always true)."""
    if settings.dashboard_password is None:
        return True
    expected = settings.dashboard_password.get_secret_value()
    return hmac.compare_digest(expected.encode(), (given or "").encode())


def reviewer() -> str | None:
    return st.session_state.get(REVIEWER_KEY)


def sign_in(settings: Settings) -> str | None:
    """The signed-in reviewer, or a sign-in form (name; password when one is configured) and None."""
    name = reviewer()
    if name:
        with st.sidebar:
            st.caption(f"Signed in as **{name}**")
            if st.button("Sign out", key="sign-out"):
                st.session_state.pop(REVIEWER_KEY, None)
                st.session_state.pop("item_id", None)
                st.rerun()
        return name
    if st.session_state.get("sign-in-submit"):  # checked before drawing, so success needs no extra rerun
        given = str(st.session_state.get("sign-in-name") or "").strip()
        if not given:
            st.error("Enter your name to sign in.")
        elif not password_ok(settings, str(st.session_state.get("sign-in-password") or "")):
            st.error("Wrong password.")
        else:
            st.session_state[REVIEWER_KEY] = given
            return sign_in(settings)
    st.title("GPT-2 Provenance review")
    with st.form("sign-in"):
        st.text_input("Your name", max_chars=128, key="sign-in-name",
                      help="Shown in the audit log and to other reviewers.")
        if settings.dashboard_password is not None:
            st.text_input("Shared password", type="password", key="sign-in-password")
        st.form_submit_button("Sign in", key="sign-in-submit")
    return None
