"""Pick the torch device and dtype: cuda > mps > cpu, full precision on CPU, half precision on GPUs."""

from __future__ import annotations

import torch

from generator.errors import GeneratorError

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(requested: str = "auto") -> torch.device:
    """Return the device to run on; an explicit device that is not available is an error, not a fallback."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise GeneratorError("device 'cuda' was requested but no CUDA GPU is available",
                             hint="set PROVENANCE_DEVICE=auto or cpu")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise GeneratorError("device 'mps' was requested but MPS is not available",
                             hint="set PROVENANCE_DEVICE=auto or cpu")
    if requested not in {"cpu", "cuda", "mps"}:
        raise GeneratorError(f"unknown device {requested!r}", hint="use auto, cpu, cuda or mps")
    return torch.device(requested)


def resolve_dtype(requested: str, device: torch.device) -> torch.dtype:
    """float32 on CPU (half precision is slow there); bf16 on GPUs that support it, else fp16."""
    if requested != "auto":
        if requested not in _DTYPES:
            raise GeneratorError(f"unknown dtype {requested!r}", hint="use auto, float32, float16 or bfloat16")
        return _DTYPES[requested]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
