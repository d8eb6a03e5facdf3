"""The perplexity scorer on ONNX Runtime: export once per weights hash, verify before every use.

Why a hand-written graph: transformers' GPT-2 forward carries cache, mask-building and attention-dispatch
machinery that changes between releases and exports poorly. ``HiddenStateGraph`` recomputes GPT-2's
forward from the checkpoint's own weights (tokens + positions, pre-LN blocks, causal + padding mask,
``gelu_new`` MLP, final LayerNorm) in plain tensor ops, so ``torch.onnx.export`` (legacy TorchScript
exporter) gives a small, stable graph with dynamic batch and sequence axes. The graph stops at the final
hidden states: ``PerplexityScorer`` keeps running the LM head only on scored positions and computes the
same statistics, so the two backends share every line of statistic code.

Exports live in ``<cache>/<weights-sha256[:16]>-<precision>/`` with ``export.json`` recording the weights
hash, the model shape and the ONNX file's own SHA-256. Loading checks all three, so an export made for
another model version, or a truncated/corrupt file, raises ``OnnxExportError`` naming the mismatch instead of
producing a wrong score.

Precision ``int8`` applies ONNX Runtime's dynamic quantizer (int8 weights, activations quantized per
batch) to the exported graph's MatMuls, and torch's dynamic int8 to the LM head. Identity decision: fp32
ONNX scores equal torch fp32 scores to 1e-3 (tested), so it keeps the torch identity and bundles/caches are
shared; int8 changes scores, so its identity gains ``|backend=onnxruntime-int8`` and a bundle trained with
fp32 refuses it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from detect.errors import DetectionError
from detect.perplexity import PerplexityScorer
from generator.loading import file_sha256 as _file_sha256

EXPORT_FORMAT = 1
OPSET = 17
ONNX_FILE = "model.onnx"
EXPORT_CARD = "export.json"
PRECISIONS = ("fp32", "int8")
BACKENDS = ("torch", "onnx")


class OnnxExportError(DetectionError):
    """An ONNX export is missing, corrupt, or was made for another model."""


# -- the exportable graph ---------------------------------------------------------------------------------
class HiddenStateGraph(nn.Module):
    """GPT-2's forward pass to the final hidden states, written in export-friendly tensor ops."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        config = model.config
        unsupported = [flag for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn",
                                         "add_cross_attention") if getattr(config, flag, False)]
        if unsupported or config.activation_function not in {"gelu_new", "gelu_pytorch_tanh"}:
            what = unsupported or config.activation_function
            raise OnnxExportError(f"GPT-2 variant not supported by the ONNX exporter ({what})",
                                  hint="use PROVENANCE_SCORER_BACKEND=torch")
        self.transformer = model.transformer
        self.n_head = int(config.n_head)
        self.scale = bool(getattr(config, "scale_attn_weights", True))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        tr = self.transformer
        batch, width = input_ids.shape
        positions = torch.arange(width, device=input_ids.device)
        hidden = tr.wte(input_ids) + tr.wpe(positions)[None]
        causal = torch.tril(torch.ones(width, width, dtype=torch.bool, device=input_ids.device))
        allowed = causal[None, None] & (attention_mask[:, None, None, :] > 0)
        bias = torch.zeros(allowed.shape, dtype=hidden.dtype, device=hidden.device).masked_fill(~allowed, -1e9)
        for block in tr.h:
            hidden = hidden + self._attention(block.attn, block.ln_1(hidden), bias)
            mlp = block.mlp
            hidden = hidden + _conv1d(mlp.c_proj, _gelu_new(_conv1d(mlp.c_fc, block.ln_2(hidden))))
        return tr.ln_f(hidden)

    def _attention(self, attn: nn.Module, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        batch, width, dim = x.shape
        head_dim = dim // self.n_head
        q, k, v = _conv1d(attn.c_attn, x).split(dim, dim=2)
        q, k, v = (t.reshape(batch, width, self.n_head, head_dim).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2)
        if self.scale:
            scores = scores / math.sqrt(head_dim)
        weights = torch.softmax(scores + bias, dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(batch, width, dim)
        return _conv1d(attn.c_proj, out)


def _conv1d(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """transformers' Conv1D (weight stored in x out): a MatMul + Add that ORT's quantizer recognises."""
    return x @ layer.weight + layer.bias


def _gelu_new(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


# -- export cache ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportCard:
    """What an export was made from; compared field by field before a session is opened."""

    format: int
    weights_sha256: str
    model_name: str
    precision: str
    n_layer: int
    n_embd: int
    n_head: int
    vocab_size: int
    context_length: int
    onnx_sha256: str
    opset: int
    torch: str
    onnxruntime: str


def weights_digest(lm: Any) -> str:
    """The checkpoint file's SHA-256, or (hub models without a local file) a hash of the state dict."""
    if lm.weights_sha256:
        return str(lm.weights_sha256)
    digest = hashlib.sha256()
    for name, tensor in sorted(lm.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()


def export_dir(cache_root: Path, lm: Any, precision: str) -> Path:
    return Path(cache_root) / f"{weights_digest(lm)[:16]}-{precision}"


def _expected_card(lm: Any, precision: str, onnx_sha256: str) -> ExportCard:
    import onnxruntime

    config = lm.model.config
    return ExportCard(EXPORT_FORMAT, weights_digest(lm), str(lm.name), precision, int(config.n_layer),
                      int(config.n_embd), int(config.n_head), int(config.vocab_size), int(config.n_positions),
                      onnx_sha256, OPSET, torch.__version__, onnxruntime.__version__)


def export_model(lm: Any, directory: Path, precision: str = "fp32", *,
                 seal: Callable[[Path], None] | None = None) -> ExportCard:
    """Export ``lm``'s hidden-state graph (optionally int8-quantized) into ``directory``, atomically. ``seal``
    (the application's signer) runs on the complete staging folder before it is renamed into place."""
    if precision not in PRECISIONS:
        raise OnnxExportError(f"unknown ONNX precision {precision!r}", hint="use fp32 or int8")
    if lm.quantized:
        raise OnnxExportError("the ONNX exporter needs the float model, but the scorer was loaded int8-quantized",
                              hint="unset PROVENANCE_QUANTIZE and set PROVENANCE_SCORER_QUANTIZE=int8 instead")
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        graph = HiddenStateGraph(copy.deepcopy(lm.model).float().cpu()).eval()  # never touch the live model
        fp32_path = staging / ("fp32.onnx" if precision == "int8" else ONNX_FILE)
        ids = torch.zeros((2, 8), dtype=torch.long)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, (ids, torch.ones_like(ids)), str(fp32_path), dynamo=False,
                              input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                            "attention_mask": {0: "batch", 1: "sequence"},
                                            "hidden": {0: "batch", 1: "sequence"}},
                              opset_version=OPSET)
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(fp32_path), str(staging / ONNX_FILE), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"])
            fp32_path.unlink()
        card = _expected_card(lm, precision, _file_sha256(staging / ONNX_FILE))
        (staging / EXPORT_CARD).write_text(json.dumps(asdict(card), indent=2) + "\n", encoding="utf-8")
        if seal is not None:
            seal(staging)
        if directory.exists():
            shutil.rmtree(directory)
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return card


def verify_export(directory: Path, lm: Any, precision: str) -> ExportCard:
    """Check an export folder against ``lm``; raise ``OnnxExportError`` naming the first mismatch."""
    directory = Path(directory)
    hint = f"delete {directory} to re-export it from the current model"
    try:
        recorded = json.loads((directory / EXPORT_CARD).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise OnnxExportError(f"ONNX export {directory} has no readable {EXPORT_CARD} ({exc})", hint=hint) from exc
    expected = asdict(_expected_card(lm, precision, onnx_sha256=""))
    for key in ("format", "weights_sha256", "precision", "n_layer", "n_embd", "n_head", "vocab_size",
                "context_length"):
        if recorded.get(key) != expected[key]:
            raise OnnxExportError(
                f"ONNX export {directory} was made for another model: {key} is {recorded.get(key)!r} there, "
                f"{expected[key]!r} for scorer {lm.name}", hint=hint)
    onnx_path = directory / ONNX_FILE
    if not onnx_path.is_file():
        raise OnnxExportError(f"ONNX export {directory} has no {ONNX_FILE}", hint=hint)
    actual = _file_sha256(onnx_path)
    if actual != recorded.get("onnx_sha256"):
        raise OnnxExportError(f"ONNX file {onnx_path} is corrupt: its SHA-256 {actual[:12]} differs from the "
                              f"recorded {str(recorded.get('onnx_sha256'))[:12]}", hint=hint)
    return ExportCard(**{key: recorded[key] for key in ExportCard.__dataclass_fields__})


def ensure_export(cache_root: Path, lm: Any, precision: str = "fp32", *,
                  seal: Callable[[Path], None] | None = None, verify: Callable[[Path], None] | None = None) -> Path:
    """The verified export folder for ``lm``, exporting on first use (minutes for big models, once).
    ``seal``/``verify``: the application's signer and signature check (run before the graph is loaded)."""
    directory = export_dir(cache_root, lm, precision)
    if not (directory / EXPORT_CARD).is_file():
        export_model(lm, directory, precision, seal=seal)
    if verify is not None:
        verify(directory)
    verify_export(directory, lm, precision)
    return directory


# -- running it -------------------------------------------------------------------------------------------
def _providers(device: torch.device) -> list[str]:
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if device.type == "cuda" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def open_session(onnx_path: Path, device: torch.device, threads: int | None = None) -> Any:
    """An ORT session (all graph optimisations); a file ORT cannot parse becomes ``OnnxExportError``."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(str(onnx_path), options, providers=_providers(device))
    except Exception as exc:  # ORT raises several untyped errors for a bad file
        raise OnnxExportError(f"ONNX Runtime could not load {onnx_path}: {str(exc).splitlines()[0][:200]}",
                              hint=f"delete {Path(onnx_path).parent} to re-export it") from exc


@dataclass
class _Hidden:
    last_hidden_state: torch.Tensor


class OnnxTransformer:
    """Callable like ``model.transformer``: runs the ORT session, returns the hidden states as a tensor."""

    def __init__(self, session: Any, device: torch.device) -> None:
        self.session = session
        self.device = device

    def __call__(self, *, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> _Hidden:
        feeds = {"input_ids": input_ids.cpu().numpy().astype(np.int64),
                 "attention_mask": attention_mask.cpu().numpy().astype(np.int64)}
        (hidden,) = self.session.run(["hidden"], feeds)
        return _Hidden(torch.from_numpy(hidden).to(self.device))


class OnnxLanguageModel(nn.Module):
    """The duck-typed ``model`` the scorer sees: ORT transformer + a torch LM head (int8 when asked)."""

    def __init__(self, model: nn.Module, session: Any, device: torch.device, precision: str) -> None:
        super().__init__()
        weight = model.lm_head.weight.detach().float()
        head = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        with torch.no_grad():
            head.weight.copy_(weight.cpu())
        if precision == "int8":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from torch.ao.quantization import quantize_dynamic

                head = quantize_dynamic(nn.Sequential(head), {nn.Linear}, dtype=torch.qint8)[0]
        else:
            head = head.to(device)
        self.lm_head = head
        self.anchor = nn.Parameter(torch.zeros(1, device=device), requires_grad=False)  # device for the scorer
        self.transformer = OnnxTransformer(session, device)


class OnnxPerplexityScorer(PerplexityScorer):
    """``PerplexityScorer`` whose transformer runs on ONNX Runtime; the statistics code is unchanged."""

    def __init__(self, lm: Any, export: Path, *, precision: str = "fp32", batch_tokens: int = 8192,
                 max_text_tokens: int = 2048, threads: int | None = None) -> None:
        super().__init__(lm, batch_tokens=batch_tokens, max_text_tokens=max_text_tokens)
        self.precision = precision
        self.export = Path(export)
        session = open_session(self.export / ONNX_FILE, self.device, threads)
        self.providers = list(session.get_providers())
        self.model = OnnxLanguageModel(lm.model, session, self.device, precision)

    @property
    def identity(self) -> str:
        base = super().identity
        return base if self.precision == "fp32" else f"{base}|backend=onnxruntime-{self.precision}"


def build_scorer(lm: Any, *, backend: str = "torch", quantize: str = "none", batch_tokens: int = 8192,
                 cache_root: Path | None = None, seal: Callable[[Path], None] | None = None,
                 verify: Callable[[Path], None] | None = None) -> PerplexityScorer:
    """The scorer the settings ask for: torch (fp32, or int8: quantizes ``lm`` in place) or ONNX Runtime.

    ``quantize="auto"`` (the default setting) is int8 on CPU, where dynamic int8 scores ~2.6x faster at the
    same left-out AUROC (README, "Machine-text detection"), and the model's own precision elsewhere."""
    if backend not in BACKENDS:
        raise DetectionError(f"unknown scorer backend {backend!r}", hint="use torch or onnx")
    if quantize == "auto":
        quantize = "int8" if lm.device.type == "cpu" else "none"
    if quantize not in ("none", "int8"):
        raise DetectionError(f"unknown scorer quantization {quantize!r}", hint="use auto, none or int8")
    if quantize == "int8" and lm.device.type != "cpu":
        raise DetectionError("int8 scoring runs on CPU only", hint="set PROVENANCE_DEVICE=cpu, or "
                             "PROVENANCE_SCORER_QUANTIZE=none on a GPU (bf16 is the GPU default)")
    if backend == "torch":
        if quantize == "int8" and not lm.quantized:
            from generator.quantize import quantize_int8

            lm.model = quantize_int8(lm.model)
            lm.quantized = "int8"
        return PerplexityScorer(lm, batch_tokens=batch_tokens)
    precision = "int8" if quantize == "int8" else "fp32"
    if cache_root is None:
        raise DetectionError("the onnx scorer backend needs a cache directory for its export",
                             hint="set PROVENANCE_HOME")
    return OnnxPerplexityScorer(lm, ensure_export(cache_root, lm, precision, seal=seal, verify=verify),
                                precision=precision,
                                batch_tokens=batch_tokens)
