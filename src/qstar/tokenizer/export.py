"""Export to tiktoken (an ``Encoding`` built from our ranks, nothing downloaded) and to a Hugging Face
``tokenizer.json`` (byte-level BPE: a ``Split`` pre-tokenizer with our pattern, then ``ByteLevel`` without its own
regex), both giving the same ids as :meth:`BPETokenizer.encode_reference`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from qstar.core.atomic import atomic_write_text
from qstar.tokenizer.base import TokenizerError, bytes_to_unicode

if TYPE_CHECKING:
    import tiktoken

    from qstar.tokenizer.bpe import BPETokenizer


def rank_conflicts(tok: "BPETokenizer") -> list[int]:
    """Tokens that tiktoken's rank rule could build from another pair than their merge.

    tiktoken merges any two neighbours whose joined bytes form a token (lowest id first); our rule merges only the
    learned pairs. The two agree when every token's bytes split into two tokens in exactly one way, its merge.
    """
    ids = {b: i for i, b in enumerate(tok.vocab)}
    out = []
    for i, (a, b) in enumerate(tok.merges):
        t = tok.vocab[256 + i]
        if ids[t] != 256 + i:
            out.append(256 + i)  # the same bytes as an earlier token
            continue
        for k in range(1, len(t)):
            if k != len(tok.vocab[a]) and t[:k] in ids and t[k:] in ids:
                out.append(256 + i)
                break
    return out


def to_tiktoken(tok: "BPETokenizer", name: str = "qstar-bpe") -> "tiktoken.Encoding":
    import tiktoken

    ranks = {}
    for i, b in enumerate(tok.vocab):
        if b in ranks:
            raise TokenizerError(f"tokens {ranks[b]} and {i} have the same bytes {b!r}; tiktoken needs distinct "
                                 f"bytes per token, so this tokenizer has no tiktoken form (use encode_reference)")
        ranks[b] = i
    return tiktoken.Encoding(name=name, pat_str=tok.pattern, mergeable_ranks=ranks,
                             special_tokens=dict(tok.special_tokens), explicit_n_vocab=tok.vocab_size)


def hf_json(tok: "BPETokenizer") -> dict:
    """The ``tokenizer.json`` content for Hugging Face ``tokenizers``."""
    byte_char = bytes_to_unicode()

    def show(b: bytes) -> str:
        return "".join(byte_char[x] for x in b)

    vocab = {show(b): i for i, b in enumerate(tok.vocab)}
    if len(vocab) != len(tok.vocab):
        raise TokenizerError("two tokens have the same bytes; a Hugging Face vocabulary needs distinct tokens")
    merges = [[show(tok.vocab[a]), show(tok.vocab[b])] for a, b in tok.merges]
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for s, i in sorted(tok.special_tokens.items(), key=lambda x: x[1])]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": tok.pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        ]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def to_hf_json(tok: "BPETokenizer", path: str | Path) -> Path:
    """Write ``tokenizer.json``; ``tokenizers.Tokenizer.from_file(path)`` then gives our ids."""
    return atomic_write_text(path, json.dumps(hf_json(tok), ensure_ascii=False) + "\n")


def to_hf_tokenizer(tok: "BPETokenizer"):
    """A ``tokenizers.Tokenizer`` built in memory from :func:`hf_json`."""
    from tokenizers import Tokenizer
    return Tokenizer.from_str(json.dumps(hf_json(tok)))
