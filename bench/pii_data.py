"""Texts for the PII benchmarks: presidio-research's generated data beside the repo, else synthetic paragraphs."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

SHARED_PII = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pii"

_NAMES = ["Maria Lopez", "John Carter", "Aiko Tanaka", "Olu Adeyemi", "Sven Larsen", "Priya Nair"]
_TEMPLATES = [
    "Ring {name} at ({a}) {b}-{c} about the invoice.",
    "{name} moved to {n} Harbour Road, unit {u}, and her email is {user}@example.org.",
    "Card {card} was declined; the customer {name} asked for a callback.",
    "The meeting notes mention nothing personal, only the quarterly budget and the new office plants.",
]


def shared_texts(name: str = "large") -> list[str] | None:
    path = SHARED_PII / f"generated_{name}.json"
    if not path.is_file():
        return None
    return [item["full_text"] for item in json.loads(path.read_text(encoding="utf-8"))]


def synthetic_texts(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        out.append(rng.choice(_TEMPLATES).format(
            name=rng.choice(_NAMES), a=rng.randint(200, 999), b=rng.randint(200, 999), c=rng.randint(1000, 9999),
            n=rng.randint(1, 400), u=rng.randint(1, 90), user="".join(rng.choices(string.ascii_lowercase, k=6)),
            card="4532015112830366"))
    return out


def texts(count: int) -> tuple[list[str], str]:
    """``count`` texts (cycling the shared data if needed) and where they came from."""
    base = shared_texts("large")
    source = "../shared/data/pii/generated_large.json"
    if base is None:
        base, source = synthetic_texts(1000), "synthetic"
    return [base[i % len(base)] for i in range(count)], source
