"""Train GPT-2's kind of tokenizer (byte-level BPE) on a corpus and wrap it for transformers.

Byte-level BPE never produces unknown tokens, so any text (emoji, other scripts) stays encodable; the
single special token ``<|endoftext|>`` (id 0) separates documents, pads batches and starts empty prompts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

END_OF_TEXT = "<|endoftext|>"


def _limited(paragraphs: Iterable[str], max_bytes: int) -> Iterator[str]:
    seen = 0
    for paragraph in paragraphs:
        yield paragraph
        seen += len(paragraph)
        if seen >= max_bytes:
            return


def train_tokenizer(paragraphs: Iterable[str], *, vocab_size: int, context_length: int,
                    sample_bytes: int = 16_000_000) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer of ``vocab_size`` tokens learnt from up to ``sample_bytes`` of text."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    backend.train_from_iterator(_limited(paragraphs, sample_bytes), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        unk_token=END_OF_TEXT,
        pad_token=END_OF_TEXT,
        model_max_length=context_length,
        padding_side="left",
    )
