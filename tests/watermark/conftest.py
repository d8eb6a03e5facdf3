"""The watermark tests share one tokenizer: the watermark needs only a tokenizer (no model), so these tests
load it once per session and nothing heavier."""

from __future__ import annotations

import pytest

from tests.watermark.support import quick_tokenizer


@pytest.fixture(scope="session")
def tokenizer():  # noqa: ANN201 - a Hugging Face tokenizer
    return quick_tokenizer()
