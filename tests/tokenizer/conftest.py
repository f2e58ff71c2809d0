"""Shared tokenizers for the tokenizer tests, trained once per session on text from this machine."""

from __future__ import annotations

import pytest

from qstar.tokenizer import BPETokenizer
from qstar.tokenizer.corpus import corpus

SPECIALS = ["<|endoftext|>", "<|pad|>", "<|bos|>"]


@pytest.fixture(scope="session")
def english() -> str:
    return corpus(120_000, "english")


@pytest.fixture(scope="session")
def tok(english) -> BPETokenizer:
    """GPT-4 pattern, 1500 tokens, three specials (ids 1497, 1498, 1499)."""
    return BPETokenizer.train(english + corpus(80_000, "mixed"), 1500, special_tokens=SPECIALS)


@pytest.fixture(scope="session")
def tok_gpt2(english) -> BPETokenizer:
    return BPETokenizer.train(english, 700, pattern="gpt2")
