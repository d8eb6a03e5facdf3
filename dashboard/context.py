"""Per-session plumbing shared by every page: settings, the database, the signed-in account, error display.

Settings come from the environment (``provenance dashboard`` passes the data directory and database URL
through it), so the dashboard reads exactly the store the CLI and the pipeline write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session

from dashboard.review_state import reset_review_state
from provenance.errors import ProvenanceError
from provenance.settings import Settings

ACCOUNT_KEY = "account"  # the signed-in provenance.review.accounts.Account
LAST_SEEN_KEY = "account-last-seen"


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


def _client_address() -> str:
    """The browser's address as Streamlit sees it (for the per-client sign-in back-off)."""
    try:
        return str(st.context.ip_address or "unknown")
    except Exception:  # older Streamlit or no request context (AppTest): one shared bucket
        return "unknown"


def reviewer() -> str | None:
    account = st.session_state.get(ACCOUNT_KEY)
    return account.name if account is not None else None


def scope() -> str | None:
    """The tenant whose rows the signed-in account sees (None: a platform-admin sees every tenant). Without an
    account nothing is drawn anyway; "default" keeps a stray call from widening the view."""
    account = st.session_state.get(ACCOUNT_KEY)
    return getattr(account, "scope", "default") if account is not None else "default"


def _keep_token(settings: Settings, account: Any) -> None:
    """Put a fresh signed session token in the page URL (its expiry moves with activity), so a reload resumes
    the session instead of signing the reviewer out. Never the password: see ``review.session_tokens``."""
    from provenance.review.session_tokens import QUERY_PARAM, issue_token

    st.query_params[QUERY_PARAM] = issue_token(settings.home, account,
                                               idle_minutes=settings.dashboard_session_minutes)


def _resume_from_url(settings: Settings) -> None:
    """A reload: a valid token in the URL brings the account back (checked server-side), else it is dropped."""
    from provenance.review.session_tokens import QUERY_PARAM, resume

    token = st.query_params.get(QUERY_PARAM)
    if not token or st.session_state.get(ACCOUNT_KEY) is not None:
        return
    resumed = resume(database_url(), settings.home, str(token), max_hours=settings.dashboard_session_max_hours,
                     client=_client_address())
    if resumed.account is None:
        st.query_params.pop(QUERY_PARAM, None)
        return
    from provenance.review.accounts import now_utc

    st.session_state[ACCOUNT_KEY] = resumed.account
    st.session_state[LAST_SEEN_KEY] = now_utc()  # the token was still inside its idle window


def _end_session(reason: str) -> None:
    from provenance.review.accounts import record_session_end
    from provenance.review.session_tokens import QUERY_PARAM

    st.query_params.pop(QUERY_PARAM, None)
    account = st.session_state.pop(ACCOUNT_KEY, None)
    st.session_state.pop(LAST_SEEN_KEY, None)
    reset_review_state()
    if account is not None:
        record_session_end(database_url(), account.name, reason)


def _session_expired(settings: Settings, account: Any, *, touch: bool = True) -> str | None:
    """Why an open session must end now (idle, too old, account disabled or password changed), or None.
    ``touch``: this run is the reviewer's action (not a timer refresh), so the idle clock restarts."""
    from provenance.review.accounts import now_utc, session_still_valid

    now = now_utc()
    last_seen = st.session_state.get(LAST_SEEN_KEY, account.signed_in_at)
    if now - last_seen > timedelta(minutes=settings.dashboard_session_minutes):
        return "session_expired"
    if now - account.signed_in_at > timedelta(hours=settings.dashboard_session_max_hours):
        return "session_expired"
    if not session_still_valid(database_url(), account):
        return "session_revoked"
    if touch:
        st.session_state[LAST_SEEN_KEY] = now
    return None


def fragment_session(*, activity: bool = True) -> bool:
    """The session check for ``st.fragment`` bodies. A fragment rerun (a timer refresh, a click inside it)
    runs only the fragment, not ``app.py``'s sign-in check, so without this a page left open would go on
    showing fresh data after its session ended, its account was disabled or its password changed.
    ``activity=False`` for timer refreshes: they check the session but do not keep it alive. Returns False
    (after ending the session and saying so) when the fragment must not draw anything."""
    account = st.session_state.get(ACCOUNT_KEY)
    ended = "session_missing" if account is None else _session_expired(load_settings(), account, touch=activity)
    if ended is None:
        return True
    if account is not None:
        _end_session(ended)
    st.warning("Your session ended (idle too long, signed out, or the account changed): reload the page and "
               "sign in again.")
    return False


def sign_in(settings: Settings) -> str | None:
    """The signed-in reviewer account's name, or the sign-in form (account name + password) and None.

    Only accounts made with ``provenance reviewer add`` can sign in; with none, the page says how to add one."""
    from provenance.review.accounts import authenticate, has_accounts

    _resume_from_url(settings)
    account = st.session_state.get(ACCOUNT_KEY)
    if account is not None:
        ended = _session_expired(settings, account)
        if ended is None:
            _keep_token(settings, account)
            with st.sidebar:
                st.caption(f"Signed in as **{account.name}** ({account.role})")
                if st.button("Sign out", key="sign-out"):
                    _end_session("signout")
                    st.rerun()
            return account.name
        _end_session(ended)
        st.warning("Your session ended (idle too long, or the account changed): sign in again.")
    st.title("GPT-2 Provenance review")
    if settings.dashboard_password is not None:
        st.caption("PROVENANCE_DASHBOARD_PASSWORD is no longer used: reviewers sign in with their own accounts.")
    if not has_accounts(database_url()):
        st.info("No reviewer account exists yet. Create one in a terminal, then reload this page:  \n"
                "`provenance reviewer add YOUR_NAME` (it asks for a password).")
        return None
    if st.session_state.get("sign-in-submit"):  # checked before drawing, so success needs no extra rerun
        result = authenticate(database_url(), str(st.session_state.get("sign-in-name") or ""),
                              str(st.session_state.get("sign-in-password") or ""), client=_client_address())
        if result.account is not None:
            st.session_state[ACCOUNT_KEY] = result.account
            st.session_state[LAST_SEEN_KEY] = result.account.signed_in_at
            st.session_state.pop("sign-in-password", None)
            return sign_in(settings)
        st.error(result.message)
    with st.form("sign-in"):
        st.text_input("Account", max_chars=128, key="sign-in-name",
                      help="Your reviewer account (provenance reviewer add NAME).")
        st.text_input("Password", type="password", key="sign-in-password")
        st.form_submit_button("Sign in", key="sign-in-submit")
    return None
