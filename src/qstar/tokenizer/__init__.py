"""Byte-level BPE as in GPT-2/GPT-4: train fast, encode exactly, export to tiktoken and Hugging Face."""

from qstar.tokenizer.base import SpecialTokenError, TokenIdError, TokenizerError, TokenizerFileError
from qstar.tokenizer.bpe import BPETokenizer
from qstar.tokenizer.patterns import GPT2_PATTERN, GPT4_PATTERN

__all__ = ["BPETokenizer", "GPT2_PATTERN", "GPT4_PATTERN", "TokenizerError", "SpecialTokenError",
           "TokenizerFileError", "TokenIdError"]
