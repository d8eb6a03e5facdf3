"""Load GPT-2-family checkpoints by name or path, and resolve the platform's default model offline.

Resolution order for the default (no model named): ``gpt2`` from the local Hugging Face cache, then
from the hub if it answers within a short timeout, then the model that ``provenance model bootstrap``
trained into the data directory; otherwise one error that lists every attempt and the fixing command.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from generator.devices import dtype_name, resolve_device, resolve_dtype
from generator.errors import GeneratorError, ModelNotFoundError
from generator.hashing import WEIGHT_FILES as _WEIGHT_FILES
from generator.hashing import checkpoint_sha256, file_sha256
from generator.hub import cached_snapshot, hub_reachable
from generator.quantize import quantize_int8

DEFAULT_HUB_MODEL = "gpt2"
SUPPORTED_MODEL_TYPES = {"gpt2"}
BOOTSTRAP_HINT = "provenance model bootstrap --corpus DIR  (trains a GPT-2 on your .txt files, ~15 min on CPU)"


@dataclass(frozen=True)
class ModelRequest:
    """What to load and how. ``name`` None means: resolve the platform default."""

    name: str | None = None
    bootstrap_dir: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    quantize: str = "none"
    hub_timeout: float = 3.0
    offline: bool = False
    token: str | None = field(default=None, repr=False)  # hub token for private checkpoints; never printed
    adapter: str | None = None  # LoRA adapter folder merged on top (generator/lora.py)


__all__ = ["LoadedModel", "ModelRequest", "file_sha256", "load_model", "load_tokenizer", "resolve_model"]

@dataclass
class LoadedModel:
    """A ready-to-use model with its tokenizer and where it came from."""

    model: Any
    tokenizer: PreTrainedTokenizerBase
    name: str
    source: str  # path | hub-cache | hub | bootstrap
    path: Path | None
    device: torch.device
    dtype: torch.dtype
    quantized: str | None
    parameters: int
    attempts: list[str] = field(default_factory=list)
    adapted_sha256: str | None = None  # merged LoRA weights are not the base's: their own identity

    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)

    @property
    def context_length(self) -> int:
        return int(self.model.config.n_positions)

    @cached_property
    def weights_sha256(self) -> str | None:
        """SHA-256 of the checkpoint's weight file, so manifests and bundles can pin the exact model."""
        if self.adapted_sha256 is not None:
            return self.adapted_sha256
        return checkpoint_sha256(self.path)

    def info(self) -> dict[str, Any]:
        """The `provenance model info --json` object (contract keys first)."""
        return {
            "name": self.name,
            "source": self.source,
            "parameters": self.parameters,
            "vocab_size": self.vocab_size,
            "device": str(self.device),
            "dtype": "int8" if self.quantized == "int8" else dtype_name(self.dtype),
            "path": str(self.path) if self.path else None,
            "context_length": self.context_length,
            "layers": int(self.model.config.n_layer),
            "hidden_size": int(self.model.config.n_embd),
        }


def _looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", ".", "~")) or Path(spec).expanduser().exists()


def _check_checkpoint_dir(path: Path) -> None:
    if not path.is_dir():
        raise ModelNotFoundError(f"model path {path} does not exist or is not a directory",
                                 hint="pass a Hugging Face checkpoint directory or a hub name such as gpt2")
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"{path} is not a Hugging Face checkpoint (no config.json)",
                                 hint="point PROVENANCE_MODEL at a directory saved with save_pretrained()")
    if not any((path / name).is_file() for name in _WEIGHT_FILES):
        raise ModelNotFoundError(f"{path} has a config.json but no weights file ({' or '.join(_WEIGHT_FILES)})",
                                 hint="re-save the checkpoint, or run provenance model bootstrap again")


def _load_from(location: str | Path, request: ModelRequest, *, local_only: bool,
               adapter: Any = None) -> tuple[Any, Any, int]:
    """Load tokenizer and model weights; returns (model, tokenizer, parameter count before quantization)."""
    auth = {"token": request.token} if request.token and not local_only else {}
    config = AutoConfig.from_pretrained(location, local_files_only=local_only, **auth)
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise GeneratorError(f"{location} is a {config.model_type!r} model, not a GPT-2-family checkpoint",
                             hint="use gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2 or a GPT-2 directory")
    device = resolve_device(request.device)
    if request.quantize == "int8" and device.type != "cpu":
        raise GeneratorError("int8 quantization is for CPU inference only",
                             hint="set PROVENANCE_DEVICE=cpu or PROVENANCE_QUANTIZE=none")
    dtype = torch.float32 if request.quantize == "int8" else resolve_dtype(request.dtype, device)
    tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=local_only, **auth)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # silence the per-tensor "Loading weights" bar on every load
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, local_files_only=local_only, **auth)
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    prepare_tokenizer(tokenizer)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    parameters = sum(p.numel() for p in model.parameters())
    model.eval()
    if adapter is not None:  # merged before int8, so quantization sees the adapted weights
        model = adapter.apply(model)
    if request.quantize == "int8":
        model = quantize_int8(model)
    else:
        model.to(device)
    return model, tokenizer, parameters


def prepare_tokenizer(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """GPT-2 has no pad token: pad with EOS, on the left, so batched generation continues each prompt."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def _finish(model: Any, tokenizer: Any, parameters: int, *, name: str, source: str, path: Path | None,
            request: ModelRequest, attempts: list[str]) -> LoadedModel:
    first_param = next(iter(model.parameters()), None)
    device = first_param.device if first_param is not None else torch.device("cpu")
    dtype = first_param.dtype if first_param is not None else torch.float32
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, source=source, path=path, device=device,
                       dtype=dtype, quantized="int8" if request.quantize == "int8" else None,
                       parameters=parameters, attempts=attempts)


@dataclass(frozen=True)
class ModelLocation:
    """Where a checkpoint will be read from, decided without loading any weights."""

    name: str
    source: str  # path | hub-cache | hub | bootstrap
    location: str | Path  # what from_pretrained receives
    path: Path | None  # local directory, when there is one
    local_only: bool
    attempts: tuple[str, ...] = ()


def locate_model(spec: str, request: ModelRequest | None = None, *, source: str | None = None) -> ModelLocation:
    """Find ``spec`` (a checkpoint directory or a hub name) without loading it. Errors say what was tried."""
    request = request or ModelRequest(name=spec)
    if _looks_like_path(spec):
        path = Path(spec).expanduser().resolve()
        _check_checkpoint_dir(path)
        return ModelLocation(path.name, source or "path", path, path, True, (f"path {path}: found",))
    snapshot = cached_snapshot(spec)
    if snapshot is not None:
        return ModelLocation(spec, "hub-cache", snapshot, snapshot, True, (f"hub cache {spec}: found",))
    if request.offline:
        raise ModelNotFoundError(f"model {spec!r} is not in the local cache and the hub is disabled (offline)",
                                 hint="unset HF_HUB_OFFLINE / PROVENANCE_HUB_OFFLINE, or use a local path")
    reachable, reason = hub_reachable(request.hub_timeout)
    if not reachable:
        raise ModelNotFoundError(f"model {spec!r} is not cached and the hub is unreachable ({reason})",
                                 hint="use a local checkpoint path, or " + BOOTSTRAP_HINT)
    return ModelLocation(spec, "hub", spec, None, False, (f"hub cache: {spec} not cached", f"hub {spec}: reachable"))


def _load_location(found: ModelLocation, request: ModelRequest) -> LoadedModel:
    try:
        adapter = _check_adapter(found, request)
        model, tokenizer, parameters = _load_from(found.location, request, local_only=found.local_only,
                                                  adapter=adapter)
    except OSError as exc:
        if found.local_only:
            raise
        raise ModelNotFoundError(f"model {found.name!r} could not be loaded from the hub: {exc}".splitlines()[0],
                                 hint="check the name (gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2)") from exc
    path = found.path if found.path is not None else cached_snapshot(found.name)
    loaded = _finish(model, tokenizer, parameters, name=found.name, source=found.source, path=path,
                     request=request, attempts=[*found.attempts, "loaded"])
    if adapter is not None:  # the merged weights are not the base's: give them their own identity
        loaded.adapted_sha256 = adapter.adapted_sha256(adapter.card["base"]["weights_sha256"])
        loaded.name = f"{found.name}+lora:{adapter.name}"
        loaded.attempts.append(f"LoRA adapter {adapter.directory}: merged")
    return loaded


def _check_adapter(found: ModelLocation, request: ModelRequest) -> Any:
    """The checked LoRA adapter for this base (``generator.lora``), or None when none is configured."""
    if not request.adapter:
        return None
    from generator.lora import check_adapter

    base_sha = checkpoint_sha256(found.path)  # the base's identity, before any weights are read
    return check_adapter(request.adapter, base_name=found.name, base_sha256=base_sha)


def load_model(spec: str, request: ModelRequest | None = None, *, source: str | None = None) -> LoadedModel:
    """Load ``spec`` (a local checkpoint directory or a hub name). Errors say what was tried."""
    request = request or ModelRequest(name=spec)
    return _load_location(locate_model(spec, request, source=source), request)


def _bootstrap_location(request: ModelRequest, attempts: list[str]) -> ModelLocation:
    bootstrap_dir = request.bootstrap_dir
    if bootstrap_dir is not None and (bootstrap_dir / "config.json").is_file():
        found = locate_model(str(bootstrap_dir), request, source="bootstrap")
        return ModelLocation(found.name, found.source, found.location, found.path, True,
                             (*attempts, f"bootstrap model {bootstrap_dir}: found"))
    attempts.append(f"bootstrap model in {bootstrap_dir}: not found")
    raise ModelNotFoundError("no GPT-2 model is available; tried: " + "; ".join(attempts),
                             hint=f"set PROVENANCE_MODEL to a checkpoint directory, or run: {BOOTSTRAP_HINT}")


def locate_default(request: ModelRequest, *, skip_hub: bool = False) -> ModelLocation:
    """The requested model's location, or the platform default's in the documented order."""
    if request.name:
        return locate_model(request.name, request)
    attempts: list[str] = []
    snapshot = cached_snapshot(DEFAULT_HUB_MODEL)
    if snapshot is not None:
        return locate_model(DEFAULT_HUB_MODEL, request)
    attempts.append(f"{DEFAULT_HUB_MODEL} in the Hugging Face cache: not found")
    if request.offline:
        attempts.append(f"{DEFAULT_HUB_MODEL} from the hub: skipped (offline mode)")
    elif skip_hub:
        attempts.append(f"{DEFAULT_HUB_MODEL} from the hub: failed to load")
    else:
        reachable, reason = hub_reachable(request.hub_timeout)
        if reachable:
            return ModelLocation(DEFAULT_HUB_MODEL, "hub", DEFAULT_HUB_MODEL, None, False,
                                 (*attempts, f"{DEFAULT_HUB_MODEL} from the hub: reachable"))
        attempts.append(f"{DEFAULT_HUB_MODEL} from the hub: {reason}")
    return _bootstrap_location(request, attempts)


def resolve_model(request: ModelRequest) -> LoadedModel:
    """Load the requested model, or the platform default in its documented order."""
    found = locate_default(request)
    if found.source == "hub" and not request.name:
        try:
            return _load_location(found, request)
        except ModelNotFoundError:  # the hub answered but the download failed: fall back to bootstrap
            found = locate_default(request, skip_hub=True)
    return _load_location(found, request)


def load_tokenizer(request: ModelRequest) -> tuple[PreTrainedTokenizerBase, ModelLocation]:
    """Only the tokenizer of the resolved model: what model-free watermark detection needs."""
    found = locate_default(request)
    auth = {"token": request.token} if request.token and not found.local_only else {}
    tokenizer = AutoTokenizer.from_pretrained(found.location, local_files_only=found.local_only, **auth)
    return prepare_tokenizer(tokenizer), found
