"""Binoculars, the hidden-state probe and sampled training text (issue 15's candidate signals)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from detect.binoculars import BinocularsScorer, same_tokenizer
from detect.errors import DetectionError
from detect.probe import build_probe, probe_margin
from detect.sampled import SAMPLING, prefix_of, sample_continuations

TEXTS = ["The ship sailed into the harbour at noon and the crew went ashore.",
         "A short one.",
         "Grain and salt were unloaded on the quay while gulls circled the masts of the old ship all day long."]


def test_a_pair_with_different_tokenizers_is_refused(micro_model) -> None:
    other = copy.copy(micro_model)
    other.tokenizer = copy.deepcopy(micro_model.tokenizer)
    other.tokenizer.add_tokens(["<extra-token>"])
    assert not same_tokenizer(micro_model.tokenizer, other.tokenizer)
    with pytest.raises(DetectionError, match="does not share the scorer's tokenizer"):
        BinocularsScorer(micro_model, other)


def test_scores_do_not_depend_on_batching(micro_model) -> None:
    pair = BinocularsScorer(micro_model, micro_model)
    together, states = pair.score(TEXTS, pooled=True)
    alone = [pair.score([text])[0][0] for text in TEXTS]
    for batched, single in zip(together, alone, strict=True):
        assert batched.tokens == single.tokens
        assert batched.score == pytest.approx(single.score, rel=1e-4)
        assert batched.cross_entropy == pytest.approx(single.cross_entropy, rel=1e-4)
    assert states is not None and states.shape == (len(TEXTS), micro_model.model.config.n_embd)
    assert np.isfinite(states).all()


def test_with_one_model_twice_the_cross_term_is_the_models_entropy(micro_model) -> None:
    pair = BinocularsScorer(micro_model, micro_model)
    score = pair.score([TEXTS[0]])[0][0]
    ids = micro_model.tokenizer(TEXTS[0], add_special_tokens=False)["input_ids"]
    bos = micro_model.tokenizer.bos_token_id
    with torch.inference_mode():
        logits = micro_model.model(torch.tensor([[bos, *ids]])).logits[0, :-1].float()
    log_q = torch.log_softmax(logits, -1)
    entropy = -(log_q.exp() * log_q).sum(-1).mean().item()
    nll = -log_q.gather(-1, torch.tensor(ids)[:, None]).mean().item()
    assert score.cross_entropy == pytest.approx(entropy, rel=1e-4)
    assert score.log_ppl == pytest.approx(nll, rel=1e-4)
    assert score.score == pytest.approx(nll / entropy, rel=1e-4)
    assert score.score_reversed == pytest.approx(score.score, rel=1e-6)


def test_the_models_own_greedy_text_scores_more_machine_like_than_shuffled_words(micro_model) -> None:
    tokenizer = micro_model.tokenizer
    ids = tokenizer("The ship", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        greedy = micro_model.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                            max_new_tokens=40, pad_token_id=tokenizer.eos_token_id)
    text = tokenizer.decode(greedy[0])
    words = text.split()
    shuffled = " ".join(np.random.default_rng(0).permutation(words))
    pair = BinocularsScorer(micro_model, micro_model)
    machine, human_like = pair.score([text, shuffled])[0]
    assert machine.score < human_like.score


def test_a_one_token_text_gets_nan_not_an_error(micro_model) -> None:
    score = BinocularsScorer(micro_model, micro_model).score(["a"])[0][0]
    assert score.tokens <= 1 and math.isnan(score.score)


def test_sampled_continuations_are_reproducible_and_keep_their_prefix(micro_model) -> None:
    prefix = prefix_of(micro_model.tokenizer, TEXTS[2], tokens=8)
    assert TEXTS[2].startswith(prefix.strip())
    first = sample_continuations(micro_model, [prefix, prefix], "pure", new_tokens=12, seed=1)
    again = sample_continuations(micro_model, [prefix, prefix], "pure", new_tokens=12, seed=1)
    assert [s.text for s in first] == [s.text for s in again]
    assert all(s.text.startswith(prefix) and len(s.text) > len(prefix) for s in first)
    assert first[0].text != first[1].text  # each prefix index draws its own sample
    assert set(SAMPLING) == {"pure", "nucleus"}
    with pytest.raises(KeyError):
        sample_continuations(micro_model, [prefix], "greedy-ish")


def test_the_probe_separates_states_that_differ_in_one_direction() -> None:
    rng = np.random.default_rng(0)
    states = rng.normal(size=(200, 32))
    labels = (np.arange(200) % 2).astype(int)
    states[labels == 1, 3] += 2.0
    probe = build_probe().fit(states[:150], labels[:150])
    margins = probe_margin(probe, states[150:])
    assert (margins[labels[150:] == 1].mean()) > (margins[labels[150:] == 0].mean())
