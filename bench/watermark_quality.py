"""Watermark detection quality with a real model: TPR at an empirical FPR of 1e-3, attacks, copy-paste.

For each scheme (lefthash, selfhash) the model (default ../shared/models/gpt2-corpus-27m) writes ``--samples``
watermarked continuations of prompts cut from human news/QA text. Measured:

- clean: TPR at an empirical FPR of 1e-3 (threshold from >= 2,000 human passages: the unique human rows of
  ../shared/data/detect and the corpus's held-out paragraphs, cut into 260-token passages; at T = 200 only
  those with 200 scored tokens after de-duplication count, which the JSON reports as ``negatives``) for the first
  T = 25, 50, 100, 200 scored tokens; also AUC and the rates of the fixed rule (p < 3.17e-5, z = 4);
- attacked at T = 200: random token substitution and deletion of 10/20/30% of the tokens (TPR at the same
  empirical FPR, AUC against human passages at T = 200);
- copy-paste: 100 watermarked tokens pasted at a random place into 900 human tokens, against 1,000-token human
  texts: AUC of the plain whole-text p-value vs the windowed detector's corrected p-value;
- text round trip: the continuation decoded to text and detected from text (re-tokenisation included).

Scores are -log p (exact binomial), so documents of different lengths compare on one scale. Prints one JSON
object (progress on stderr). Defaults (120 samples per scheme, 240 in all) take ~6-8 minutes on 2 CPU cores;
on a GPU raise --samples.

    python bench/watermark_quality.py [--model PATH] [--device cuda] [--samples 1000] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from generator import ModelRequest, SamplingConfig, generate, load_model
from generator.bootstrap.corpus import read_corpus
from watermark import WatermarkDetector, WatermarkKey, WatermarkLogitsProcessor, tokenizer_fingerprint
from watermark.stats import binom_logsf

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
T_VALUES = (25, 50, 100, 200)
ATTACK_RATES = (0.1, 0.2, 0.3)
FPR = 1e-3


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ data
def human_texts(data_dir: Path) -> list[str]:
    return sorted({json.loads(line)["text"] for path in sorted(data_dir.glob("*.jsonl"))
                   for line in path.open(encoding="utf-8") if json.loads(line)["label"] == "human"})


def encode(tokenizer, texts: list[str]) -> list[np.ndarray]:
    encodings = tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False)
    return [np.asarray(e.ids, dtype=np.int64) for e in encodings]


def chunks(pieces: list[np.ndarray], size: int) -> list[np.ndarray]:
    """The pieces' tokens end to end, cut into consecutive passages of exactly ``size`` tokens (no overlap).

    Exact cuts waste no text: after de-duplicating repeated bigrams (about a quarter of human tokens under
    lefthash) a 260-token passage still has 200 scored tokens more often than not."""
    stream = np.concatenate(pieces)
    return [stream[i:i + size] for i in range(0, len(stream) - size + 1, size)]


def heldout_paragraphs(tokenizer, corpus_dir: Path) -> list[np.ndarray]:
    """Held-out corpus paragraphs (md5 % 100 == 0: the split the models were not trained on), in file order."""
    return encode(tokenizer, [p + "\n\n" for p in read_corpus(corpus_dir, heldout_percent=1).heldout])


# ------------------------------------------------------------------------------------------------ scoring
def masks(result) -> tuple[np.ndarray, np.ndarray]:
    scored = np.array([bit is not None for bit in result.green_mask], dtype=bool)
    green = np.array([bit is True for bit in result.green_mask], dtype=bool)
    return scored, green


def score_at(result, t: int, gamma: float) -> float | None:
    """-log p of the first ``t`` scored tokens (None if fewer are scored)."""
    scored, green = masks(result)
    positions = np.flatnonzero(scored)
    if len(positions) < t:
        return None
    return -binom_logsf(int(green[positions[:t]].sum()), t, gamma)


def minus_log_p(result) -> float:
    """-log p of a single-key result, from the counts (no underflow for very strong marks); 0 if it abstained."""
    if result.abstain or result.p_value is None:
        return 0.0
    return -binom_logsf(result.num_green, result.num_tokens_scored, result.per_key[0].gamma)


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(positive > negative) + 0.5 P(tie) (Mann-Whitney)."""
    neg = np.sort(np.asarray(negatives))
    pos = np.asarray(positives)
    below = np.searchsorted(neg, pos, side="left")
    ties = np.searchsorted(neg, pos, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(pos) * len(neg)))


def tpr_at_fpr(positives: list[float], negatives: list[float], fpr: float) -> dict:
    """Threshold = the (floor(fpr*N)+1)-th largest negative score; positives must exceed it strictly."""
    neg = np.sort(np.asarray(negatives))[::-1]
    allowed = int(math.floor(fpr * len(neg)))
    threshold = float(neg[min(allowed, len(neg) - 1)])
    return {"tpr": round(float(np.mean(np.asarray(positives) > threshold)), 4),
            "empirical_fpr": round(float(np.mean(neg > threshold)), 5), "threshold_minus_log_p": round(threshold, 3),
            "negatives": len(neg), "positives": len(positives)}


# ------------------------------------------------------------------------------------------------ attacks
def attacked(ids: np.ndarray, rate: float, kind: str, rng: np.random.Generator, allowed: np.ndarray) -> np.ndarray:
    hit = rng.random(len(ids)) < rate
    if kind == "substitution":
        out = ids.copy()
        out[hit] = rng.choice(allowed, size=int(hit.sum()))
        return out
    return ids[~hit]


def splice(background: np.ndarray, pasted: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    at = int(rng.integers(0, len(background) + 1))
    return np.concatenate([background[:at], pasted, background[at:]])


# ------------------------------------------------------------------------------------------------ main
def run_scheme(scheme: str, args, lm, prompts: list[str], human: list[np.ndarray], backgrounds: list[np.ndarray],
               negatives_cp: list[np.ndarray]) -> dict:
    tokenizer = lm.tokenizer
    secret = hashlib.sha256(f"watermark-quality-bench/{args.seed}/{scheme}".encode()).digest()
    key = WatermarkKey(secret=secret, tokenizer_fingerprint=tokenizer_fingerprint(tokenizer), scheme=scheme,
                       gamma=args.gamma, delta=args.delta)
    detector = WatermarkDetector(tokenizer, [key])
    log(f"{scheme}: generating {len(prompts)} x {args.new_tokens} tokens")
    started = time.perf_counter()
    sampling = SamplingConfig(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, seed=args.seed,
                              top_k=args.top_k or None, temperature=args.temperature)
    generations = generate(lm, prompts, sampling, logits_processors=[WatermarkLogitsProcessor(key, tokenizer)],
                           batch_size=args.batch_size)
    generation_seconds = time.perf_counter() - started
    log(f"{scheme}: generated in {generation_seconds:.0f}s; scoring")
    full = [np.asarray(g.prompt_token_ids + g.token_ids, dtype=np.int64) for g in generations]
    prompt_lengths = [len(g.prompt_token_ids) for g in generations]
    marked = detector.detect_ids_batch(full, prompt_lengths=prompt_lengths, details=True)
    human_results = detector.detect_ids_batch(human, details=True)

    clean = {}
    for t in T_VALUES:
        pos = [s for s in (score_at(r, t, args.gamma) for r in marked) if s is not None]
        neg = [s for s in (score_at(r, t, args.gamma) for r in human_results) if s is not None]
        z4 = -math.log(detector.p_threshold)
        clean[f"T{t}"] = {**tpr_at_fpr(pos, neg, FPR), "auc": round(auc(pos, neg), 4),
                          "tpr_at_z4": round(float(np.mean(np.asarray(pos) > z4)), 4),
                          "human_fpr_at_z4": round(float(np.mean(np.asarray(neg) > z4)), 5)}
    green_fraction = float(np.mean([r.green_fraction for r in marked if r.green_fraction is not None]))

    # attacks on the continuation prefix that holds the first 200 scored tokens
    rng = np.random.default_rng(args.seed)
    special = set(tokenizer.all_special_ids)
    allowed = np.array([i for i in range(len(tokenizer)) if i not in special], dtype=np.int64)
    prefixes = []
    for result, ids, prompt_length in zip(marked, full, prompt_lengths, strict=True):
        scored, _ = masks(result)
        positions = np.flatnonzero(scored)
        cut = int(positions[min(199, len(positions) - 1)]) + 1 if len(positions) else len(ids)
        prefixes.append((ids[:prompt_length], ids[prompt_length:cut]))
    neg200 = [s for s in (score_at(r, 200, args.gamma) for r in human_results) if s is not None]
    attacks = {}
    for kind in ("substitution", "deletion"):
        for rate in ATTACK_RATES:
            docs = [np.concatenate([p, attacked(c, rate, kind, rng, allowed)]) for p, c in prefixes]
            results = detector.detect_ids_batch(docs, prompt_lengths=[len(p) for p, _ in prefixes])
            pos = [minus_log_p(r) for r in results]
            attacks[f"{kind}_{int(rate * 100)}pct"] = {
                **tpr_at_fpr(pos, neg200, FPR), "auc": round(auc(pos, neg200), 4),
                "mean_tokens_scored": round(float(np.mean([r.num_tokens_scored for r in results])), 1)}

    # copy-paste: 100 watermarked tokens (continuation start, context lost) inside 900 human tokens
    pasted = [splice(bg, ids[pl:pl + args.paste_tokens], rng)
              for bg, ids, pl in zip(backgrounds, full, prompt_lengths, strict=False)]
    plain_pos = [minus_log_p(r) for r in detector.detect_ids_batch(pasted)]
    plain_neg = [minus_log_p(r) for r in detector.detect_ids_batch(negatives_cp)]
    windowed_pos_results = [detector.detect_windowed_ids(doc, max_spans=1) for doc in pasted]
    windowed_neg_results = [detector.detect_windowed_ids(doc, max_spans=1) for doc in negatives_cp]

    def windowed_score(result) -> float:
        return 0.0 if result.abstain or result.p_value is None else -math.log(max(result.p_value, 1e-320))

    windowed_pos = [windowed_score(r) for r in windowed_pos_results]
    windowed_neg = [windowed_score(r) for r in windowed_neg_results]
    copy_paste = {
        "positives": len(pasted), "negatives": len(negatives_cp),
        "watermarked_share": round(args.paste_tokens / (args.paste_tokens + args.background_tokens), 3),
        "plain_auc": round(auc(plain_pos, plain_neg), 4),
        "windowed_auc": round(auc(windowed_pos, windowed_neg), 4),
        "plain_tpr_at_z4": round(float(np.mean(np.asarray(plain_pos) > -math.log(detector.p_threshold))), 4),
        "windowed_tpr_at_threshold": round(float(np.mean([r.watermarked for r in windowed_pos_results])), 4),
        "windowed_fpr_at_threshold": round(float(np.mean([r.watermarked for r in windowed_neg_results])), 4),
    }

    # text round trip: decode, re-tokenise, detect from text with the prompt as context
    roundtrip = [detector.detect(g.text, prompt=g.prompt, details=False) for g in generations]
    text = {"tpr_at_z4": round(float(np.mean([r.watermarked for r in roundtrip])), 4),
            "median_tokens_scored": float(np.median([r.num_tokens_scored for r in roundtrip]))}
    log(f"{scheme}: done")
    return {"key_id": key.key_id, "generation_seconds": round(generation_seconds, 1),
            "mean_green_fraction": round(green_fraction, 4), "clean": clean, "attacked_T200": attacks,
            "copy_paste": copy_paste, "text_roundtrip": text}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(SHARED / "models" / "gpt2-corpus-27m"))
    parser.add_argument("--data", default=str(SHARED / "data" / "detect"))
    parser.add_argument("--corpus", default=str(SHARED / "corpus"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--schemes", default="lefthash,selfhash")
    parser.add_argument("--samples", type=int, default=120, help="watermarked samples per scheme")
    parser.add_argument("--batch-size", type=int, default=60)
    parser.add_argument("--new-tokens", type=int, default=300,
                        help="tokens generated per sample (lefthash de-duplication keeps ~80%%: 300 -> 200+ scored)")
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--gamma", type=float, default=0.25)
    parser.add_argument("--delta", type=float, default=2.0)
    parser.add_argument("--top-k", type=int, default=50, help="0 disables top-k (pure sampling)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--human-passage-tokens", type=int, default=260)
    parser.add_argument("--background-tokens", type=int, default=900)
    parser.add_argument("--paste-tokens", type=int, default=100)
    parser.add_argument("--copy-paste-negatives", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    if args.device == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()

    lm = load_model(args.model, ModelRequest(device=args.device, offline=True))
    tokenizer = lm.tokenizer
    log("loading human text")
    texts = human_texts(Path(args.data))
    detect_ids = encode(tokenizer, [text + "\n\n" for text in texts])
    detect_passages = chunks(detect_ids, args.human_passage_tokens)
    heldout = chunks(heldout_paragraphs(tokenizer, Path(args.corpus)), args.human_passage_tokens)
    human = detect_passages + heldout
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(texts))
    prompts = []
    for index in order:
        if len(detect_ids[index]) >= args.prompt_tokens + 16:
            prompts.append(tokenizer.decode(detect_ids[index][: args.prompt_tokens].tolist()))
        if len(prompts) == args.samples:
            break
    stream = np.concatenate(human)
    need_bg, need_neg = args.background_tokens, args.background_tokens + args.paste_tokens
    backgrounds = [stream[i * need_bg:(i + 1) * need_bg] for i in range(args.samples)]
    offset = args.samples * need_bg
    negatives_cp = [stream[offset + i * need_neg: offset + (i + 1) * need_neg]
                    for i in range(args.copy_paste_negatives)]
    if len(negatives_cp[-1]) < need_neg:
        raise SystemExit("not enough human text for the copy-paste negatives; lower --copy-paste-negatives")
    log(f"{len(human)} human passages ({len(detect_passages)} from {len(detect_ids)} detect rows, "
        f"{len(heldout)} from held-out corpus paragraphs)")

    schemes = {scheme: run_scheme(scheme, args, lm, prompts, human, backgrounds, negatives_cp)
               for scheme in args.schemes.split(",")}
    summary = {scheme: {
        **{f"tpr@fpr1e-3_T{t}": r["clean"][f"T{t}"]["tpr"] for t in T_VALUES},
        **{f"tpr@fpr1e-3_T200_{name}": row["tpr"] for name, row in r["attacked_T200"].items()},
        "copy_paste_auc_plain": r["copy_paste"]["plain_auc"],
        "copy_paste_auc_windowed": r["copy_paste"]["windowed_auc"],
    } for scheme, r in schemes.items()}
    print(json.dumps({
        "benchmark": "watermark_quality",
        "model": {"name": lm.name, "parameters": lm.parameters, "vocab_size": lm.vocab_size, "device": str(lm.device)},
        "settings": {"samples_per_scheme": len(prompts), "new_tokens": args.new_tokens, "gamma": args.gamma,
                     "delta": args.delta, "top_k": args.top_k, "temperature": args.temperature,
                     "prompt_tokens": args.prompt_tokens, "seed": args.seed},
        "human": {"passages": len(human), "from_detect_rows": len(detect_passages), "detect_rows": len(detect_ids),
                  "from_heldout_corpus": len(heldout), "tokens_per_passage": args.human_passage_tokens,
                  "passages_scored_at_T200": {s: r["clean"]["T200"]["negatives"] for s, r in schemes.items()}},
        "summary": summary,
        "schemes": schemes,
        "seconds": round(time.perf_counter() - started, 1),
    }))


if __name__ == "__main__":
    main()
