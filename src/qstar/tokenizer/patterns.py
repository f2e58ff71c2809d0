"""Split patterns: text is cut into chunks by one of these regexes before BPE, and merges never cross chunks.

Patterns use the ``regex`` package syntax (``\\p{L}`` letters, ``\\p{N}`` numbers, possessive ``?+``/``++``), which
tiktoken (fancy-regex) and Hugging Face ``tokenizers`` (Oniguruma) also accept, so every backend cuts alike.
"""

from __future__ import annotations

import functools

import regex

from qstar.tokenizer.base import TokenizerError

# GPT-2 (Radford et al. 2019), as in tiktoken's "gpt2" encoding.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# GPT-4 (tiktoken "cl100k_base"): case-insensitive contractions, numbers in groups of at most 3 digits,
# newlines kept with the punctuation before them.
GPT4_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
                r"""|\s*[\r\n]|\s+(?!\S)|\s+""")

PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}


def resolve_pattern(name_or_regex: str) -> str:
    """``"gpt2"`` / ``"gpt4"`` name a built-in pattern; anything else is taken as a regex and must compile."""
    pattern = PATTERNS.get(name_or_regex.lower(), name_or_regex)
    compile_pattern(pattern)
    return pattern


@functools.lru_cache(maxsize=16)
def compile_pattern(pattern: str) -> regex.Pattern:
    try:
        return regex.compile(pattern)
    except regex.error as e:
        raise TokenizerError(f"split pattern does not compile ({e}); use 'gpt2', 'gpt4' or a valid regex") from None
