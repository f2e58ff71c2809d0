"""A ``transformers.PreTrainedTokenizerFast`` around the exported ``tokenizer.json``, for HF models and trainers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qstar.tokenizer.base import TokenizerError

if TYPE_CHECKING:
    from qstar.tokenizer.bpe import BPETokenizer

# Special-token roles recognised by name when the caller does not name them: first registered match wins.
ROLE_NAMES = {
    "bos_token": ["<|bos|>", "<|startoftext|>", "<|begin_of_text|>", "<s>", "<bos>"],
    "eos_token": ["<|eos|>", "<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>"],
    "pad_token": ["<|pad|>", "<pad>"],
    "unk_token": ["<|unk|>", "<unk>"],
}


def to_transformers(tok: "BPETokenizer", **roles: str | None):
    """``PreTrainedTokenizerFast`` with our ids. Roles (``bos_token``, ``eos_token``, ``pad_token``, ``unk_token``) are
    taken from the arguments, else from registered special tokens with a usual name (``<|endoftext|>`` is eos,
    ``<|pad|>`` is pad, ...). A role must name a registered special token."""
    from transformers import PreTrainedTokenizerFast

    from qstar.tokenizer.export import to_hf_tokenizer

    unknown = set(roles) - set(ROLE_NAMES)
    if unknown:
        raise TokenizerError(f"unknown special-token roles {sorted(unknown)}; allowed: {sorted(ROLE_NAMES)}")
    chosen = {}
    for role, names in ROLE_NAMES.items():
        name = roles.get(role) or next((n for n in names if n in tok.special_tokens), None)
        if name is None:
            continue
        if name not in tok.special_tokens:
            raise TokenizerError(f"{role}={name!r} is not a special token of this tokenizer; register it with "
                                 f"special_tokens=[...] when training (it has {sorted(tok.special_tokens)})")
        chosen[role] = name
    return PreTrainedTokenizerFast(tokenizer_object=to_hf_tokenizer(tok), clean_up_tokenization_spaces=False,
                                   **chosen)
