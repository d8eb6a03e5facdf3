"""Swagger UI (``/docs``) and ReDoc (``/redoc``) served from an installed package, never from a CDN.

FastAPI's default pages load Swagger UI's script and stylesheet from a public CDN and the favicon from the
FastAPI site, so on an air-gapped machine (the usual place for a trust-and-safety deployment) ``/docs`` is a
blank page. This is FastAPI's self-hosting recipe with the static files that the ``fastapi-offline`` package
ships (Swagger UI, ReDoc's standalone bundle, a favicon): nothing is vendored into this repository and nothing
is fetched at run time. ReDoc runs without Google Fonts for the same reason, and both pages carry a
Content-Security-Policy that allows only this origin, so the browser never tries an outside request (ReDoc's
sidebar would otherwise fetch its vendor's logo from a CDN).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs-assets"
# Swagger UI would otherwise ask an online validator about the spec (a request leaving the machine).
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
# Same origin only. Inline script/style: the pages' start-up script and the UIs' injected styles; blob: for
# ReDoc's web worker; data: for inline SVG icons.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
            "frame-ancestors 'self'")


def _same_origin_only(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


def assets_dir() -> Path:
    """The folder of Swagger UI / ReDoc files inside the installed ``fastapi_offline`` package."""
    return Path(str(files("fastapi_offline") / "static"))


def install_offline_docs(app: FastAPI) -> None:
    """Mount the packaged assets and add ``/docs``, its OAuth2 redirect page and ``/redoc``.

    ``app`` must be created with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are not added.
    URLs honour the ASGI ``root_path`` so the pages also work behind a path-prefixing proxy.
    """
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url

    def serve(url: str, name: str, render: Callable[[str, str], HTMLResponse]) -> None:
        """Serve ``render(root, assets)`` at ``url`` with the same-origin CSP: ``root`` is the request's ASGI
        ``root_path`` and ``assets`` the packaged files' URL under it."""
        async def page(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "")
            return _same_origin_only(render(root, f"{root}{ASSETS_URL}"))

        app.add_api_route(url, page, methods=["GET"], include_in_schema=False, name=name)

    serve(DOCS_URL, "swagger_ui", lambda root, assets: get_swagger_ui_html(
        openapi_url=root + openapi_url, title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js", swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon.png",
        oauth2_redirect_url=(root + redirect_url) if redirect_url else None,
        swagger_ui_parameters={**SWAGGER_UI_PARAMETERS, **(app.swagger_ui_parameters or {})}))

    if redirect_url:
        @app.get(redirect_url, include_in_schema=False)
        async def swagger_ui_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

    serve(REDOC_URL, "redoc", lambda root, assets: get_redoc_html(
        openapi_url=root + openapi_url, title=f"{app.title} - ReDoc",
        redoc_js_url=f"{assets}/redoc.standalone.js", redoc_favicon_url=f"{assets}/favicon.png",
        with_google_fonts=False))
