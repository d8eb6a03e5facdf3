"""Request and response bodies: the OpenAPI contract at ``/docs`` and ``/openapi.json``.

Requests forbid unknown fields (a typo such as ``"windowd"`` is a clear 422, not silently ignored). Text
length and batch size are checked by the handlers against the configured limits so they answer 413, the
status the limits are documented with.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _encodable(value: str) -> str:
    """JSON may carry lone surrogates (``"\\ud800"``); they are not text, and nothing downstream can hash them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode text (lone surrogate at position {exc.start})") from None
    return value


Text = Annotated[str, AfterValidator(_encodable)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerifyRequest(Strict):
    text: Text = Field(description="The text to check.")
    windowed: bool = Field(False, description="Also search for watermarked spans (text mixed with human text).")
    detect: bool = Field(False, description="Also run the machine-text detection ensemble (loads the scorer LM).")
    provenance: bool = Field(True, description="Look the text up in the generation ledger (false: null).")
    fpr: float | None = Field(None, gt=0, lt=1, description="Decide the watermark at this false-positive rate "
                              "(e.g. 0.001) with the exact binomial test; null: the default rule (z > 4, "
                              "p < 3.17e-5). Texts too short to reach it answer too_short.")


class VerifyBatchRequest(Strict):
    texts: list[Text] = Field(min_length=1, description="Texts to check (at most the configured api_max_batch).")
    windowed: bool = False
    detect: bool = False
    provenance: bool = True
    fpr: float | None = Field(None, gt=0, lt=1, description="Decide the watermark at this false-positive rate "
                              "(e.g. 0.001) with the exact binomial test; null: the default rule (z > 4, "
                              "p < 3.17e-5). Texts too short to reach it answer too_short.")


class Span(BaseModel):
    start: int
    end: int
    p_value: float | None


class WatermarkResult(BaseModel):
    z_score: float | None
    p_value: float | None
    green_fraction: float | None = None
    num_tokens_scored: int | None
    watermarked: bool
    key_id: str | None
    abstain: bool = False
    reason: str | None = None
    keys_tested: int | None = None
    spans: list[Span] | None = None
    windowed_p_value: float | None = None
    scheme: str | None = Field(None, description="Seeding scheme of the key that scored best (unigram, lefthash, "
                               "selfhash, hf-lefthash).")
    too_short: bool | None = Field(None, description="Fewer scored tokens than min_tokens_required: undecidable at "
                                   "the chosen rate (neither watermarked nor not).")
    min_tokens_required: int | None = None
    fpr: float | None = Field(None, description="The false-positive rate decided at (null: the z > 4 rule).")
    p_value_threshold: float | None = None


class NearDuplicate(BaseModel):
    manifest_id: str
    similarity: float = Field(description="Estimated Jaccard similarity of word 5-shingles (MinHash).")
    signature_valid: bool


class Containment(BaseModel):
    manifest_id: str
    similarity: float = Field(description="Estimated share of the contained text's word 5-shingles found in the "
                                          "other (MinHash).")
    direction: Literal["generation_in_text", "text_in_generation"]
    signature_valid: bool


class BestMatch(BaseModel):
    manifest_id: str
    kind: Literal["exact", "near_duplicate", "containment"]
    similarity: float


class ProvenanceResult(BaseModel):
    text_sha256: str
    manifest_id: str | None = Field(description="Exact ledger match by normalised text hash, if any.")
    match: Literal["exact", "near_duplicate", "containment"] | None
    signature_valid: bool | None
    signature_reason: str | None = None
    manifest: dict[str, Any] | None = None
    near_duplicates: list[NearDuplicate]
    containment: list[Containment] = Field(default_factory=list, description="Generations inside this text, or "
                                           "containing it.")
    best_match: BestMatch | None = Field(None, description="The manifest the text is attributed to (exact, else "
                                         "the most similar near duplicate or containment at >= 0.5), if any.")


class VerifyResponse(BaseModel):
    watermark: WatermarkResult
    provenance: ProvenanceResult | None = Field(description="Ledger lookup (null when provenance=false).")
    detection: dict[str, Any] | None = Field(None, description="The ensemble's verdict (with detect=true).")


class VerifyBatchResponse(BaseModel):
    results: list[VerifyResponse]


class GenerateRequest(Strict):
    prompt: Text = Field(min_length=1, description="Text to continue.")
    max_new_tokens: int = Field(64, ge=1, le=1024)
    min_new_tokens: int | None = Field(None, ge=0, le=1024)
    temperature: float = Field(1.0, gt=0, le=100)
    top_k: int | None = Field(50, ge=0, le=1_000_000, description="0 or null disables top-k.")
    top_p: float | None = Field(None, gt=0, le=1)
    greedy: bool = Field(False, description="Greedy decoding instead of sampling.")
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    repetition_penalty: float | None = Field(None, gt=0, le=100)


class GenerateResponse(BaseModel):
    text: str | None = Field(description="The watermarked continuation (null when withheld).")
    prompt: str
    tokens: int
    finish_reason: str | None = None
    watermark: dict[str, Any] | None
    manifest: dict[str, Any] = Field(description="The signed manifest, also written to the ledger.")
    toxicity: dict[str, Any] | None = Field(None, description="{p_toxic, toxic, categories} when screened.")
    withheld: bool | None = Field(None, description="True: the output was toxic and is not released.")
    regenerations: int | None = None


class ScanRecord(Strict):
    id: str | int | None = None
    text: Text


class ScanRequest(Strict):
    records: list[ScanRecord] | None = Field(None, description='[{"id"?, "text"}] to scan.')
    texts: list[Text] | None = Field(None, description="Plain texts to scan (ids are their positions).")
    path: Text | None = Field(None, description="A file or directory on the server (admin scope only).")
    format: Literal["auto", "jsonl", "txt", "csv", "parquet", "warc"] = "auto"
    text_field: str = "text"
    id_field: str = "id"
    callback_url: str | None = Field(None, description="Called once (POST, JSON job summary) when the job ends, "
                                     "signed with the returned callback_secret (header X-Provenance-Signature); "
                                     "https://, or http:// to a loopback address only.")


class ScanResponse(BaseModel):
    job_id: str
    status_url: str
    verdicts_url: str
    callback_secret: str | None = Field(None, description="With callback_url: the HMAC-SHA256 key of the "
                                        "callback's signature, shown only here.")


class VerdictPageResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    job_id: str
    tenant: str
    status: str
    verdicts: list[dict[str, Any]] = Field(description="Records shaped as `provenance verdicts export` lines.")
    next_cursor: str = Field(description="Pass as cursor= for the next page (\"\" until a first record is read).")
    complete: bool = Field(description="True once the job has ended and no verdict lies beyond next_cursor.")


class JobResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    job_id: str
    status: str
    total: int
    scored: int
    quarantined: int
    duplicates: int


class ErrorResponse(BaseModel):
    error: str = Field(description="Machine-readable code, e.g. unauthorized, rate_limited.")
    message: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in ((401, "missing or unknown API key"), (403, "the key lacks the scope"),
                                (413, "body, text or batch too large"), (422, "invalid request body"),
                                (429, "rate limit exceeded (see Retry-After)"))
}
