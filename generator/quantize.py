"""int8 dynamic quantization of GPT-2 on CPU.

GPT-2 keeps its attention and MLP projections in transformers' ``Conv1D`` (weight stored as
``in x out``), which torch's dynamic quantizer does not recognise. We swap each ``Conv1D`` for an
equivalent ``nn.Linear`` (transposed weight, same bias) and then quantize every ``nn.Linear``, the
tied LM head included, to int8 weights with float activations.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D


def conv1d_to_linear(module: Conv1D) -> nn.Linear:
    """An ``nn.Linear`` computing exactly what ``module`` computes."""
    in_features, out_features = module.weight.shape
    linear = nn.Linear(in_features, out_features, bias=module.bias is not None)
    with torch.no_grad():
        linear.weight.copy_(module.weight.t())
        if module.bias is not None:
            linear.bias.copy_(module.bias)
    return linear.to(module.weight.device, module.weight.dtype)


def replace_conv1d(model: nn.Module) -> int:
    """Replace every Conv1D under ``model`` in place; returns how many were replaced."""
    replaced = 0
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, Conv1D):
                setattr(parent, child_name, conv1d_to_linear(child))
                replaced += 1
    return replaced


def quantize_int8(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantization for CPU inference (weights int8, activations quantized per batch)."""
    if next(model.parameters()).device.type != "cpu":
        raise ValueError("int8 dynamic quantization runs on CPU only")
    model = model.float().eval()
    replace_conv1d(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notices are not actionable for users
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
