"""Synthetic English for tests and benchmarks: grammatical and repetitive, so a micro GPT-2 learns it in
seconds, and invented, so no data file's strings end up in code."""

from __future__ import annotations

import random

SUBJECTS = ["the old captain", "a young doctor", "the quiet village", "my sister", "the river", "the king",
            "a tired soldier", "the small boat", "her mother", "the city council"]
VERBS = ["walked toward", "remembered", "looked at", "spoke with", "waited for", "followed", "described",
         "crossed", "admired", "avoided"]
OBJECTS = ["the harbour", "an empty house", "the morning train", "a letter from London", "the long road",
           "the winter garden", "a silver key", "the northern hills", "the market square", "a strange light"]
TAILS = ["before the storm.", "in silence.", "at dawn.", "without a word.", "for many years.",
         "with great care.", "once again.", "after dinner.", "near the bridge.", "as the bells rang."]


def synthetic_paragraphs(count: int, seed: int = 0) -> list[str]:
    """Grammatical, repetitive English: enough structure for a micro model to learn in seconds."""
    rng = random.Random(seed)
    paragraphs = []
    for _ in range(count):
        sentences = [
            f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}"
            for _ in range(rng.randint(2, 5))
        ]
        paragraphs.append(" ".join(sentences))
    return paragraphs


INSULTS = ["idiot", "moron", "loser", "jerk", "clown", "fool", "scumbag", "creep"]
ADJECTIVES = ["stupid", "pathetic", "dumb", "worthless", "disgusting", "useless"]
NAMES = ["sam", "alex", "jo", "kim", "lee", "pat"]
NOUNS = ["garden", "meeting", "recipe", "concert", "weather", "book", "train", "match"]
GOOD = ["great", "lovely", "interesting", "fine", "quiet", "busy"]
TOXIC = ["you are a {adj} {insult}", "shut up you {adj} {insult}", "{name} is a {adj} {insult}",
         "i hate you, you {insult}", "go away you {adj} {insult}", "what a {adj} {insult} you are"]
CLEAN = ["the {noun} was {good} today", "thanks for the {noun}, {name}", "i think the {noun} is {good}",
         "see you at the {noun} tomorrow", "{name} said the {noun} was {good}", "what a {good} {noun} that was"]


def synthetic_toxicity_rows(count: int, seed: int = 0) -> list[dict]:
    """Two sources with different surface styles (chat: mentions and "lol"; forum: full stops)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        toxic = i % 2 == 0
        template = rng.choice(TOXIC if toxic else CLEAN)
        text = template.format(adj=rng.choice(ADJECTIVES), insult=rng.choice(INSULTS), name=rng.choice(NAMES),
                               noun=rng.choice(NOUNS), good=rng.choice(GOOD))
        source = "chat" if i % 4 < 2 else "forum"
        text = f"@{rng.choice(NAMES)}user {text} lol" if source == "chat" else f"{text.capitalize()}. #{i}"
        categories = [rng.choice(["offensive_language", "hate_speech"])] if toxic else []
        rows.append({"text": text, "label": "toxic" if toxic else "non_toxic", "categories": categories,
                     "source": source})
    return rows
