"""`/docs` (Swagger UI) and `/redoc` work offline: their assets come from an installed package, not a CDN.

The fast test checks the HTML and the assets over FastAPI's TestClient; the browser test opens both pages in
Debian's Chromium (Playwright) against a real uvicorn on 127.0.0.1, sees the operations rendered, and fails if
any request tries to leave 127.0.0.1 (such requests are aborted, as they would fail on an air-gapped machine).
Uncaught errors in the pages' scripts fail the test too, so a page that renders only partly does not pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from provenance.settings import Settings
from testkit.services import free_port
from tests.provenance.api_support import ThreadedServer, api_settings_for, prepare_home

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
UI_GUARD_MS = 120_000  # a hang guard only (the machine is shared); nothing here is a timing check
OPERATIONS = ("/v1/verify", "/v1/generate", "/v1/scan")


@pytest.fixture(scope="module")
def docs_settings(tmp_path_factory: pytest.TempPathFactory, micro_model_dir: Path) -> Settings:
    settings = api_settings_for(tmp_path_factory.mktemp("docs-home"), micro_model_dir)
    prepare_home(settings)
    return settings


def external_urls(html: str) -> list[str]:
    """Absolute URLs in ``src``/``href`` attributes or in the page's script (what a browser would fetch)."""
    return re.findall(r"""https?://[^\s"'<>)]+""", html)


def test_docs_pages_reference_only_local_assets(docs_settings: Settings) -> None:
    from provenance.api import create_app

    with TestClient(create_app(docs_settings)) as client:
        for page in ("/docs", "/redoc"):
            response = client.get(page)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
            assert "default-src 'self'" in response.headers["content-security-policy"]
            assert external_urls(response.text) == [], page
            assets = re.findall(r"""(?:src|href)=["'](/[^"']+)["']""", response.text)
            assert assets, page
            for asset in assets:
                fetched = client.get(asset)
                assert fetched.status_code == 200 and len(fetched.content) > 1000, asset
        assert "/docs" not in client.get("/openapi.json").json()["paths"]
        assert client.get("/docs/oauth2-redirect").status_code == 200


@pytest.fixture
def docs_server(docs_settings: Settings) -> Iterator[str]:
    from provenance.api import create_app

    server = ThreadedServer(create_app(docs_settings), free_port())
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="Debian's Chromium is not installed at /usr/bin/chromium")
def test_docs_and_redoc_render_in_a_browser_with_no_network(docs_server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(UI_GUARD_MS)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))

            def only_local(route) -> None:  # noqa: ANN001
                if route.request.url.startswith(docs_server + "/"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_local)
            page.goto(docs_server + "/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("GPT-2 Provenance API")
            for path in OPERATIONS:
                expect(page.locator(f'.opblock-summary-path[data-path="{path}"]').first).to_be_visible()
            page.goto(docs_server + "/redoc")
            expect(page.get_by_role("heading", name=re.compile("GPT-2 Provenance API"))).to_be_visible()
            for path in OPERATIONS:
                expect(page.get_by_text(path, exact=True).first).to_be_attached()
        finally:
            browser.close()
    assert errors == [], f"the docs pages logged errors: {errors}"
    assert outside == [], f"the docs pages tried to reach the outside: {outside}"
