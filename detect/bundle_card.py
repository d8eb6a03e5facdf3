"""A detector bundle's card, read with JSON only.

``detect.bundle`` imports scikit-learn and joblib (it unpickles the ensemble); the submission path, the light
CLI commands and the dashboard need only the card (its digest names the bundle version), so the one card
reader lives here and both sides use it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD_FILE = "card.json"


def read_card(directory: Path) -> dict[str, Any] | None:
    """The bundle's card, or None when there is no readable bundle there (no error: callers decide)."""
    try:
        return json.loads((Path(directory) / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
