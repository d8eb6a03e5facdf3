"""Watermark attack bench: TPR vs tokens at FPR 1e-3 / 1e-5 per scheme, under edits, with generation cost.

Split: prompts and human negatives come from the corpus's HELD-OUT documents (``md5(document) % 100 == 0``, the
documents the reference checkpoint never trained on; ``provenance.cli.demo_heldout``), hashed into two disjoint
halves: prompt documents (a prompt = the first ``--prompt-words`` words of one paragraph) and the other half
(random substitution/insertion words and copy-paste backgrounds). False positives: consecutive non-overlapping
30- and 75-word excerpts of every held-out paragraph. Nothing from the data is written into code.

For each arm (``--arms``: ``scheme[:delta][:repeats]``; a bare scheme takes a new key's defaults, i.e.
unigram delta 3 and the others delta 2, gamma ``--gamma``; ``:repeats`` turns off the unigram processor's
"do not boost tokens already in the text" rule) and an unwatermarked baseline, the model writes one
continuation of ``--new-tokens`` tokens per prompt (same seed, same
prompts). Then, from TEXT (re-tokenised, no prompt: what ``provenance watermark detect`` sees):

- ``excerpt``: the first N words (N in ``--lengths``);
- ``substitution`` / ``synonym`` / ``deletion`` / ``insertion``: that edit at ``--rate`` of the words of the
  whole continuation, then the first N words;
- ``copy_paste``: the first N words pasted at a random place into ``--background-words`` of held-out human text,
  tested with the windowed detector (its p-value is corrected for every window tried).

TPR uses the detector's own rule at ``fpr`` (exact binomial p < fpr, ``WatermarkDetector.at_fpr``), and
``too_short`` answers count as misses. False positives: the same rules on the human excerpts (the default rule
z > 4 too). Quality: perplexity of each continuation under the base model given its prompt (mean token NLL),
per arm and relative to unwatermarked. Speed: ``--timing-rounds`` rounds over the first ``--timing-prompts``
prompts, each round generating unwatermarked then every default-scheme arm back to back (order alternating
between rounds); the minimum per arm is compared with the unwatermarked minimum of the same run. Prints one JSON
object; ``--plot`` writes the curves as a PNG (default into ``bench/results/``, which git ignores).

    OMP_NUM_THREADS=1 python bench/watermark_attacks.py [--samples 80] [--plot bench/results/wm_attacks.png]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import watermark_edits as edits  # noqa: E402

from generator import ModelRequest, SamplingConfig, generate, load_model  # noqa: E402
from provenance.cli.demo_heldout import corpus_documents, is_heldout  # noqa: E402
from watermark import WatermarkDetector, WatermarkKey, WatermarkLogitsProcessor, tokenizer_fingerprint  # noqa: E402
from watermark.schemes import default_delta  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FPRS = (1e-3, 1e-5)
ATTACKS = ("excerpt", "substitution", "synonym", "deletion", "insertion", "copy_paste")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ held-out data
def heldout_paragraphs(corpus: Path) -> tuple[list[str], list[str], list[str]]:
    """Paragraphs (whitespace-normalised) of held-out documents: (prompt half with >= 20 words, negative half,
    every held-out paragraph). The FP test uses every held-out paragraph: a key's false alarms do not depend on
    whether a prompt was cut from a text, and 1% of the corpus only just gives 2,000 30-word excerpts."""
    prompt_side: list[str] = []
    negative_side: list[str] = []
    every: list[str] = []
    for path in sorted(corpus.glob("*.txt")):
        for document in corpus_documents(path):
            if not is_heldout(document):
                continue
            prompt_half = hashlib.sha256(document.encode()).digest()[0] % 2 == 0
            paragraphs = [" ".join(par.split()) for par in document.split("\n\n")]
            every.extend(p for p in paragraphs if p)
            if prompt_half:
                prompt_side.extend(p for p in paragraphs if len(p.split()) >= 20)
            else:
                negative_side.extend(p for p in paragraphs if p)
    return prompt_side, negative_side, every


def human_excerpts(paragraphs: list[str], n_words: int, limit: int) -> list[str]:
    """Consecutive non-overlapping ``n_words`` excerpts of the paragraphs' word stream."""
    stream = [w for p in paragraphs for w in p.split()]
    return [" ".join(stream[i:i + n_words]) for i in range(0, len(stream) - n_words + 1, n_words)][:limit]


# ------------------------------------------------------------------------------------------------ generation
def make_key(tokenizer, scheme: str, args, delta: float | None = None) -> WatermarkKey:
    secret = hashlib.sha256(f"watermark-attack-bench/{args.seed}/{scheme}".encode()).digest()
    return WatermarkKey(secret=secret, tokenizer_fingerprint=tokenizer_fingerprint(tokenizer), scheme=scheme,
                        gamma=args.gamma, delta=default_delta(scheme) if delta is None else delta)


def parse_arm(spec: str) -> tuple[str, float | None, bool]:
    """``scheme[:delta][:repeats]`` -> (scheme, delta or None for the default, boost_repeats)."""
    parts = spec.split(":")
    delta = float(parts[1]) if len(parts) > 1 and parts[1] else None
    return parts[0], delta, "repeats" in parts[2:]


def run_generation(lm, prompts: list[str], processor, args) -> tuple[list, float]:
    sampling = SamplingConfig(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, seed=args.seed)
    started = time.perf_counter()
    out = generate(lm, prompts, sampling, logits_processors=[processor] if processor else [],
                   batch_size=args.batch_size)
    return out, time.perf_counter() - started


def perplexity(lm, generations) -> float:
    """exp(mean NLL of continuation tokens given the prompt) under the base model, over all samples."""
    total, count = 0.0, 0
    with torch.inference_mode():
        for g in generations:
            ids = torch.tensor([g.prompt_token_ids + g.token_ids], device=lm.device)
            logits = lm.model(ids).logits[0, :-1].float()
            nll = torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="none")
            cont = nll[len(g.prompt_token_ids) - 1:]
            total += float(cont.sum())
            count += int(cont.numel())
    return math.exp(total / max(count, 1))


# ------------------------------------------------------------------------------------------------ attacks
def attacked_texts(kind: str, texts: list[str], n_words: int, args, pool: list[str], backgrounds: list[str],
                   seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for index, text in enumerate(texts):
        if kind == "substitution":
            text = edits.substitute(text, args.rate, rng, pool)
        elif kind == "synonym":
            text = edits.synonym_swap(text, args.rate, rng)
        elif kind == "deletion":
            text = edits.delete(text, args.rate, rng)
        elif kind == "insertion":
            text = edits.insert(text, args.rate, rng, pool)
        piece = edits.excerpt(text, n_words)
        if kind == "copy_paste":
            piece = edits.paste(backgrounds[index % len(backgrounds)], piece, rng)
        out.append(piece)
    return out


def decide(detector: WatermarkDetector, texts: list[str], windowed: bool) -> dict:
    """Per FPR: TPR (too_short = miss), too_short share; plus mean tokens scored."""
    rows = {}
    results = [detector.detect_windowed(t) if windowed else detector.detect(t, details=False) for t in texts]
    overall = [r.overall if windowed else r for r in results]
    for fpr in FPRS:
        hits = [r.p_value is not None and r.p_value < fpr for r in results]
        rows[f"tpr@{fpr:g}"] = round(float(np.mean(hits)), 4)
    needed = {f"{fpr:g}": detector.at_fpr(fpr).min_tokens_required() for fpr in FPRS}
    rows["too_short@1e-05"] = round(float(np.mean([o.num_tokens_scored < needed["1e-05"] for o in overall])), 4)
    rows["tpr@default"] = round(float(np.mean([r.watermarked for r in results])), 4)
    rows["mean_tokens_scored"] = round(float(np.mean([o.num_tokens_scored for o in overall])), 1)
    return rows


def false_positives(detector: WatermarkDetector, texts: list[str]) -> dict:
    results = [detector.detect(t, details=False) for t in texts]
    row: dict = {"texts": len(texts), "mean_tokens_scored": round(float(np.mean([r.num_tokens_scored
                                                                                   for r in results])), 1)}
    for fpr in FPRS:
        row[f"fp@{fpr:g}"] = int(sum(r.p_value is not None and r.p_value < fpr for r in results))
    row["fp@default"] = int(sum(r.watermarked for r in results))
    return row


# ------------------------------------------------------------------------------------------------ plot
def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    schemes = list(report["schemes"])
    fig, axes = plt.subplots(2, len(ATTACKS), figsize=(3.2 * len(ATTACKS), 6.0), sharey=True)
    for row, fpr in enumerate(FPRS):
        for col, attack in enumerate(ATTACKS):
            ax = axes[row][col]
            for scheme in schemes:
                curve = report["schemes"][scheme]["curves"][attack]
                xs = [curve[n]["mean_tokens_scored"] for n in curve]
                ys = [curve[n][f"tpr@{fpr:g}"] for n in curve]
                ax.plot(xs, ys, marker="o", markersize=3, label=scheme)
            rate = int(report["settings"]["rate"] * 100)
            title = attack if attack in ("excerpt", "copy_paste") else f"{attack} {rate}%"
            ax.set_title(f"{title}\nFPR {fpr:g}", fontsize=8)
            ax.set_xlabel("tokens scored (excerpt)" if attack != "copy_paste" else "tokens scored (whole text)",
                          fontsize=7)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("TPR")
    axes[1][0].set_ylabel("TPR")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Watermark TPR vs tokens scored, by attack (held-out prompts, {report['settings']['samples']} "
                 f"samples, gamma {report['settings']['gamma']}; arm = scheme[:delta])", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)


# ------------------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("PROVENANCE_MODEL",
                                                          str(SHARED / "models" / "gpt2-corpus-27m")))
    parser.add_argument("--corpus", default=str(SHARED / "corpus"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--arms", default="unigram,lefthash,selfhash",
                        help="comma-separated scheme[:delta][:repeats]; e.g. unigram,unigram:2,unigram:3:repeats")
    parser.add_argument("--samples", type=int, default=80)
    parser.add_argument("--new-tokens", type=int, default=120)
    parser.add_argument("--prompt-words", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--gamma", type=float, default=0.25)
    parser.add_argument("--rate", type=float, default=0.3, help="share of words edited by each edit attack")
    parser.add_argument("--lengths", default="10,15,20,30,40,50,75")
    parser.add_argument("--negatives", type=int, default=2000, help="human 30-word excerpts")
    parser.add_argument("--background-words", type=int, default=250)
    parser.add_argument("--timing-rounds", type=int, default=4)
    parser.add_argument("--timing-prompts", type=int, default=32)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--plot", default=str(ROOT / "bench" / "results" / "watermark_attacks.png"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    load_before = os.getloadavg()

    lm = load_model(args.model, ModelRequest(device=args.device, offline=True))
    tokenizer = lm.tokenizer
    prompt_pars, negative_pars, every_par = heldout_paragraphs(Path(args.corpus))
    random.Random(args.seed).shuffle(prompt_pars)
    prompts = [" ".join(p.split()[: args.prompt_words]) for p in prompt_pars[: args.samples]]
    negatives30 = human_excerpts(every_par, 30, args.negatives)
    negatives75 = human_excerpts(every_par, 75, args.negatives)
    pool = [w for p in negative_pars for w in p.split()]
    backgrounds = human_excerpts(negative_pars[::-1], args.background_words, args.samples)
    lengths = [int(n) for n in args.lengths.split(",")]
    arms_wanted = args.arms.split(",")
    log(f"{len(prompts)} prompts, {len(negatives30)} human 30-word excerpts, {len(negatives75)} 75-word; "
        f"arms {arms_wanted}")

    arm_specs = {name: parse_arm(name) for name in arms_wanted}
    keys = {name: make_key(tokenizer, scheme, args, delta) for name, (scheme, delta, _) in arm_specs.items()}

    def processor(name: str):
        if name == "unwatermarked":
            return None
        return WatermarkLogitsProcessor(keys[name], tokenizer, boost_repeats=arm_specs[name][2])

    generations: dict[str, list] = {}
    quality_seconds: dict[str, float] = {}
    for name in ["unwatermarked", *arms_wanted]:
        generations[name], quality_seconds[name] = run_generation(lm, prompts, processor(name), args)
        log(f"{name}: generated in {quality_seconds[name]:.1f}s")
    timed_arms = ["unwatermarked", *[a for a in arms_wanted if ":" not in a]]
    seconds: dict[str, list[float]] = {arm: [] for arm in timed_arms}
    timing_prompts = prompts[: args.timing_prompts]
    for round_index in range(args.timing_rounds):
        for arm in timed_arms if round_index % 2 == 0 else timed_arms[::-1]:
            _, took = run_generation(lm, timing_prompts, processor(arm), args)
            seconds[arm].append(round(took, 3))
    log(f"timing: {seconds}")
    base_ppl = perplexity(lm, generations["unwatermarked"])
    base_seconds = min(seconds["unwatermarked"])

    report: dict = {"schemes": {}}
    for name in arms_wanted:
        detector = WatermarkDetector(tokenizer, [keys[name]])
        texts = [g.text for g in generations[name]]
        curves: dict = {}
        for attack in ATTACKS:
            curves[attack] = {}
            for n in lengths:
                pieces = attacked_texts(attack, texts, n, args, pool, backgrounds, seed=args.seed + n)
                curves[attack][str(n)] = {"words": n, **decide(detector, pieces, windowed=attack == "copy_paste")}
        ppl = perplexity(lm, generations[name])
        row = {"key": keys[name].to_public_dict() | {"boost_repeats": arm_specs[name][2]},
               "perplexity": round(ppl, 2), "perplexity_ratio_vs_unwatermarked": round(ppl / base_ppl, 3),
               "quality_run_generation_seconds": round(quality_seconds[name], 2)}
        if name in seconds:
            row["timing_seconds"] = seconds[name]
            row["generation_ratio_vs_unwatermarked"] = round(min(seconds[name]) / base_seconds, 3)
        row.update({
            "false_positives_30_words": false_positives(detector, negatives30),
            "false_positives_75_words": false_positives(detector, negatives75),
            "unwatermarked_text_detected": false_positives(detector,
                                                           [g.text for g in generations["unwatermarked"]]),
            "curves": curves,
        })
        report["schemes"][name] = row
        log(f"{name}: scored")
    report.update({
        "benchmark": "watermark_attacks",
        "split": "held-out corpus documents (md5 % 100 == 0): prompt half / negative half by sha256 parity",
        "baseline": "unwatermarked generation (same prompts, seed, batch size, run)",
        "model": {"name": lm.name, "parameters": lm.parameters, "device": str(lm.device)},
        "settings": {"samples": len(prompts), "new_tokens": args.new_tokens, "gamma": args.gamma,
                     "rate": args.rate, "timing_prompts": len(timing_prompts), "timing_rounds": args.timing_rounds,
                     "seed": args.seed, "lengths": lengths,
                     "prompt_words": args.prompt_words, "batch_size": args.batch_size, "threads": args.threads},
        "unwatermarked": {"timing_seconds": seconds["unwatermarked"], "perplexity": round(base_ppl, 2)},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": round(time.perf_counter() - started, 1),
    })
    if args.plot:
        plot(report, Path(args.plot))
        report["plot"] = args.plot
    print(json.dumps(report))


if __name__ == "__main__":
    main()
