from __future__ import annotations

from pathlib import Path

import torch
from transformers.pytorch_utils import Conv1D

from generator import ModelRequest, SamplingConfig, generate, load_model
from generator.perplexity import text_perplexity
from generator.quantize import conv1d_to_linear, replace_conv1d
from testkit.texts import synthetic_paragraphs


def test_conv1d_and_its_linear_replacement_compute_the_same_function() -> None:
    torch.manual_seed(0)
    conv = Conv1D(12, 7)
    torch.nn.init.normal_(conv.bias)
    linear = conv1d_to_linear(conv)
    x = torch.randn(3, 5, 7)
    torch.testing.assert_close(linear(x), conv(x))


def test_replacement_keeps_the_model_output(micro_model_dir: Path) -> None:
    loaded = load_model(str(micro_model_dir), ModelRequest(device="cpu"))
    ids = loaded.tokenizer("The old captain looked at the harbour", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        before = loaded.model(input_ids=ids).logits
        replaced = replace_conv1d(loaded.model)
        after = loaded.model(input_ids=ids).logits
    assert replaced == 4 * loaded.model.config.n_layer
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)


def test_int8_model_generates_and_keeps_perplexity_close(micro_model_dir: Path) -> None:
    fp32 = load_model(str(micro_model_dir), ModelRequest(device="cpu"))
    int8 = load_model(str(micro_model_dir), ModelRequest(device="cpu", quantize="int8"))
    assert int8.info()["dtype"] == "int8"
    assert int8.parameters == fp32.parameters
    texts = synthetic_paragraphs(60, seed=99)
    ppl_fp32 = text_perplexity(fp32, texts, block_size=64)["perplexity"]
    ppl_int8 = text_perplexity(int8, texts, block_size=64)["perplexity"]
    assert abs(ppl_int8 - ppl_fp32) / ppl_fp32 < 0.05
    result = generate(int8, ["The king"], SamplingConfig(max_new_tokens=8, seed=0))[0]
    assert result.tokens > 0
