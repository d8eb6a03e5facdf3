"""The domain router: confident routes only, to domains whose routing held up out of fold (issue 25)."""

from __future__ import annotations

import numpy as np

from detect.domain_router import fit_router
from tests.detect.registers import HARBOUR, KITCHEN, SKY, texts_from, three_registers


def test_confident_texts_go_to_their_eligible_domain_and_others_stay_global() -> None:
    texts, domains = three_registers()
    router = fit_router(texts, domains, ["kitchen", "sky"])  # harbour has too few labels of its own, say
    assert router is not None and set(router.domains) == {"kitchen", "sky"}
    kitchen, sky, harbour = (texts_from(v, 1, 99)[0] for v in (KITCHEN, SKY, HARBOUR))
    unknown = "zyx qwv plonk brindle quaff " * 8
    routes = router.route([kitchen, sky, harbour, unknown])
    assert routes[0][0] == "kitchen" and routes[0][1] >= router.confidence
    assert routes[1][0] == "sky"
    assert routes[2][0] is None  # recognised, but harbour is not routable: global thresholds
    assert routes[3][0] is None and routes[3][1] < router.confidence  # nothing it knows: not confident


def test_domains_that_words_cannot_tell_apart_get_no_router() -> None:
    texts = texts_from(KITCHEN + SKY, 160, 5)
    domains = np.array(["left", "right"] * 80)  # labels unrelated to the words
    assert fit_router(texts, domains, ["left", "right"]) is None
