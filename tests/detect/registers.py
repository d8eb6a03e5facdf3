"""Invented vocabularies ("registers") for the domain-router and ensemble tests: the router must tell them
apart from words alone."""

from __future__ import annotations

import random

import numpy as np

KITCHEN = ("simmer", "whisk", "saucepan", "flour", "butter", "oven", "dough", "garlic", "skillet", "knead", "broth",
           "ladle", "roast", "pastry", "vinegar", "stir", "bake", "onion")
SKY = ("orbit", "comet", "telescope", "nebula", "planet", "galaxy", "eclipse", "asteroid", "lunar", "crater",
       "gravity", "solar", "spectrum", "horizon", "meteor", "stellar", "zenith", "moon")
HARBOUR = ("anchor", "ferry", "tide", "dock", "sailor", "harbour", "rope", "hull", "cargo", "mast", "pier", "gull",
           "buoy", "captain", "deck", "wharf", "keel", "net")
FILLER = ("the", "a", "and", "then", "with", "of", "we", "it", "was", "in", "after", "slowly")


def texts_from(vocabulary: tuple[str, ...], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(vocabulary if rng.random() < 0.6 else FILLER) for _ in range(40)) for _ in range(count)]


def three_registers(seed: int = 0) -> tuple[list[str], np.ndarray]:
    texts = texts_from(KITCHEN, 60, seed) + texts_from(SKY, 60, seed + 1) + texts_from(HARBOUR, 60, seed + 2)
    return texts, np.array(["kitchen"] * 60 + ["sky"] * 60 + ["harbour"] * 60)
