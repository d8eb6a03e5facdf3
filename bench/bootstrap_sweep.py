"""Choose the bootstrap `tiny` shape by measurement: best held-out bits per byte for a CPU budget.

Each candidate trains for the number of steps it completes in the budget on this machine's CPU, as
measured by a short probe of its step time taken first (all probes before any training, so they see the
same quiet machine). Step-matched runs are immune to other load on the machine during the sweep.
Prints one JSON object: per candidate its probe speed, steps, tokens seen, held-out perplexity and bits
per byte, and the winner.

    python bench/bootstrap_sweep.py --corpus ../shared/corpus --minutes 15
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from generator.bootstrap import get_preset, train_bootstrap_model

CANDIDATES = {  # name: (vocab, layers, hidden, heads); measured results in README "Bootstrap model"
    "v4096-l3-d192": (4096, 3, 192, 4),
    "v4096-l4-d256": (4096, 4, 256, 4),
    "v8192-l4-d256": (8192, 4, 256, 4),
}
FIXED_OVERHEAD_S = 60.0  # corpus reading, tokenizer training, encoding, evaluation, saving


def probe_tokens_per_second(vocab: int, layers: int, hidden: int, heads: int, context: int, batch: int) -> float:
    torch.set_num_threads(2)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=context, n_embd=hidden, n_layer=layers,
                                       n_head=heads, bos_token_id=0, eos_token_id=0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = torch.randint(0, vocab, (batch, context + 1))
    for step in range(10):
        if step == 3:
            started = time.perf_counter()
        logits = model(input_ids=data[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), data[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return 7 * batch * context / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--only", nargs="*", help="candidate names to run (default: all)")
    args = parser.parse_args()
    base = get_preset("tiny")
    names = args.only or list(CANDIDATES)
    probes = {name: probe_tokens_per_second(*CANDIDATES[name], base.context_length, base.batch_size)
              for name in names}
    results = []
    for name in names:
        vocab, layers, hidden, heads = CANDIDATES[name]
        preset = dataclasses.replace(base, name=name, vocab_size=vocab, n_layer=layers, n_embd=hidden, n_head=heads)
        steps = int(probes[name] * (args.minutes * 60 - FIXED_OVERHEAD_S) / (preset.batch_size * preset.context_length))
        with tempfile.TemporaryDirectory() as out:
            card = train_bootstrap_model(args.corpus, Path(out) / "model", preset, max_steps=steps,
                                         max_minutes=10_000).card
        results.append({"candidate": name, "probe_tokens_per_s": round(probes[name]), "steps": steps,
                        "parameters": card["parameters"], "tokens_seen": card["tokens_seen"],
                        "heldout_perplexity": card["heldout_perplexity"],
                        "heldout_bits_per_byte": card["heldout_bits_per_byte"], "wall_s": card["wall_seconds"]})
        print(json.dumps(results[-1]), flush=True)
    best = min(results, key=lambda r: r["heldout_bits_per_byte"])
    print(json.dumps({"budget_minutes": args.minutes, "candidates": results, "winner": best["candidate"]}))


if __name__ == "__main__":
    main()
