"""Every generated page, by its path inside the site. One function so the MkDocs hook and the tests agree."""

from __future__ import annotations

import json
from collections.abc import Callable

from docsgen import api_reference, bench_page, cli_reference, records, settings_reference


def generate_pages() -> dict[str, str]:
    """Path (relative to docs/) -> content. Generated at build time; never committed."""
    schema = api_reference.openapi_schema()
    renderers: dict[str, Callable[[], str]] = {
        "reference/cli.md": cli_reference.render,
        "reference/settings.md": settings_reference.render,
        "reference/api.md": lambda: api_reference.render(schema),
        "reference/openapi.json": lambda: json.dumps(schema, indent=2) + "\n",
        "reference/records.md": records.render,
        "measured.md": bench_page.render,
    }
    return {path: render() for path, render in renderers.items()}
