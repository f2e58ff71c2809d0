"""BPETokenizer: byte-level BPE as in GPT-2/GPT-4, with the pure-Python encoder as the readable reference."""

from __future__ import annotations

import functools
from typing import AbstractSet, Iterable, Literal, Sequence

import regex

from qstar.tokenizer.base import (SpecialTokenError, TokenIdError, TokenizerError, bytes_to_text, merge_pair,
                                  pair_counts, text_to_bytes)
from qstar.tokenizer.patterns import GPT4_PATTERN, compile_pattern, resolve_pattern

AllowedSpecial = Literal["none_raise", "none", "all"] | AbstractSet[str]


class BPETokenizer:
    """A trained byte-level BPE tokenizer. Immutable: ``train`` and ``load`` return new ones.

    Token ids: 0..255 are the bytes, ``256 + i`` is made by ``merges[i]``, special tokens come after the merges.

    - ``encode`` / ``encode_batch`` use the tiktoken backend when it is installed and give the same ids as
      ``encode_reference``, the pure-Python encoder (text holding lone surrogates always takes the reference path,
      since tiktoken cannot take it).
    - Text is UTF-8 with lone surrogates kept as their 3-byte form, so every Python ``str`` round-trips:
      ``decode(encode(s)) == s``.
    """

    def __init__(self, merges: Sequence[tuple[int, int]], pattern: str = GPT4_PATTERN,
                 special_tokens: dict[str, int] | None = None):
        self.merges: tuple[tuple[int, int], ...] = tuple((int(a), int(b)) for a, b in merges)
        self.pattern = pattern
        self.special_tokens: dict[str, int] = dict(special_tokens or {})
        vocab = [bytes([i]) for i in range(256)]
        for i, (a, b) in enumerate(self.merges):
            if not (0 <= a < 256 + i and 0 <= b < 256 + i):
                raise TokenizerError(f"merge {i} = ({a}, {b}) uses a token made later; merges build on earlier ids")
            vocab.append(vocab[a] + vocab[b])
        self.vocab: tuple[bytes, ...] = tuple(vocab)  # id -> bytes, specials excluded
        self.ranks: dict[tuple[int, int], int] = {pair: 256 + i for i, pair in enumerate(self.merges)}
        expected = list(range(len(vocab), len(vocab) + len(self.special_tokens)))
        if sorted(self.special_tokens.values()) != expected:
            raise TokenizerError(f"special token ids must be {expected[:1]}.. right after the merges, "
                                 f"got {sorted(self.special_tokens.values())}")
        self.inverse_special = {i: s for s, i in self.special_tokens.items()}
        self._split = compile_pattern(pattern)

    # ---------------------------------------------------------------- training
    @classmethod
    def train(cls, text: str | Iterable[str], vocab_size: int, pattern: str = GPT4_PATTERN,
              special_tokens: Sequence[str] = (), progress: bool = False, workers: int | None = None
              ) -> "BPETokenizer":
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text`` (a string, or an iterable of pieces
        whose concatenation is the text, e.g. an open file: it is streamed).

        Definition (checked in the tests against a recount-everything reference): cut the text into chunks with
        ``pattern``; each chunk starts as its bytes. At each step count every adjacent pair inside every chunk,
        overlapping occurrences included (``aaa`` holds ``(a, a)`` twice), merge the most frequent pair everywhere
        (left to right, no overlap) into a new token; ties go to the pair whose first occurrence in the current
        tokenized text is earliest. ``"aaabdaaabac"`` with 3 merges encodes to ``[258, 100, 258, 97, 99]``.
        Special tokens get the ids after the merges, in the order given.
        """
        from qstar.tokenizer.train import count_chunks, train_merges

        pattern = resolve_pattern(pattern)
        special_tokens = list(dict.fromkeys(special_tokens))
        if any(not s for s in special_tokens):
            raise TokenizerError("special tokens must be non-empty strings")
        num_merges = vocab_size - 256 - len(special_tokens)
        if num_merges < 0:
            raise TokenizerError(f"vocab size {vocab_size} is below 256 + {len(special_tokens)} special tokens; "
                                 f"the 256 byte tokens are always in the vocabulary")
        merges = train_merges(count_chunks(text, pattern, workers, progress), num_merges, progress=progress)
        specials = {s: 256 + num_merges + i for i, s in enumerate(special_tokens)}
        return cls(merges, pattern, specials)

    # ---------------------------------------------------------------- sizes
    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + len(self.special_tokens)

    def token_bytes(self, token_id: int) -> bytes:
        if 0 <= token_id < len(self.vocab):
            return self.vocab[token_id]
        if token_id in self.inverse_special:
            return self.inverse_special[token_id].encode("utf-8")
        raise TokenIdError(f"token id {token_id} is out of range: this tokenizer has ids 0..{self.vocab_size - 1}")

    # ---------------------------------------------------------------- the reference encoder
    def encode_chunk(self, data: bytes) -> list[int]:
        """BPE on one chunk: repeatedly merge the adjacent pair made earliest in training (leftmost on a tie)."""
        ids = list(data)
        while len(ids) >= 2:
            stats = pair_counts(ids)
            pair = min(stats, key=lambda p: self.ranks.get(p, float("inf")))
            if pair not in self.ranks:
                break
            ids = merge_pair(ids, pair, self.ranks[pair])
        return ids

    def encode_ordinary_reference(self, text: str) -> list[int]:
        """Pure Python, special tokens treated as ordinary text. Repeated chunks are encoded once per call."""
        out: list[int] = []
        seen: dict[str, list[int]] = {}
        for chunk in self._split.findall(text):
            ids = seen.get(chunk)
            if ids is None:
                ids = seen[chunk] = self.encode_chunk(text_to_bytes(chunk))
            out.extend(ids)
        return out

    def encode_reference(self, text: str, allowed_special: AllowedSpecial = "none_raise") -> list[int]:
        """The readable pure-Python encoder; ``encode`` gives the same ids faster."""
        out: list[int] = []
        for piece, special in self._split_special(text, allowed_special):
            out.extend([self.special_tokens[piece]] if special else self.encode_ordinary_reference(piece))
        return out

    def _check_special(self, text: str, allowed_special: AllowedSpecial) -> set[str]:
        """The allowed special tokens; raises SpecialTokenError if ``text`` holds one that is not allowed."""
        allowed = self._allowed(allowed_special)
        if allowed_special == "none" or len(allowed) == len(self.special_tokens):
            return allowed
        for s in self.special_tokens:
            if s not in allowed and s in text:
                raise SpecialTokenError(
                    f"text contains the special token {s!r}; pass allowed_special={{{s!r}}} or "
                    f"allowed_special='all' to encode it as a special token, or allowed_special='none' to encode it "
                    f"as ordinary text")
        return allowed

    def _split_special(self, text: str, allowed_special: AllowedSpecial) -> list[tuple[str, bool]]:
        """[(piece, is_special)]: the text cut around the allowed special tokens; raises on a disallowed one."""
        allowed = self._check_special(text, allowed_special)
        if not allowed:
            return [(text, False)]
        special_re = _special_regex(tuple(sorted(allowed, key=len, reverse=True)))
        pieces, start = [], 0
        for m in special_re.finditer(text):
            if m.start() > start:
                pieces.append((text[start:m.start()], False))
            pieces.append((m.group(), True))
            start = m.end()
        if start < len(text):
            pieces.append((text[start:], False))
        return pieces

    def _allowed(self, allowed_special: AllowedSpecial) -> set[str]:
        if allowed_special in ("none_raise", "none"):
            return set()
        if allowed_special == "all":
            return set(self.special_tokens)
        if isinstance(allowed_special, str):
            raise TokenizerError(f"allowed_special={allowed_special!r}; use 'none_raise', 'none', 'all' "
                                 f"or a set of special tokens")
        unknown = set(allowed_special) - set(self.special_tokens)
        if unknown:
            raise TokenizerError(f"allowed_special names {sorted(unknown)}, which are not special tokens of this "
                                 f"tokenizer; it has {sorted(self.special_tokens)}")
        return set(allowed_special)

    # ---------------------------------------------------------------- fast path
    def encode(self, text: str, allowed_special: AllowedSpecial = "none_raise") -> list[int]:
        """Token ids of ``text``. Special tokens found in the text raise SpecialTokenError unless allowed:
        ``"none_raise"`` (default) raises, ``"none"`` encodes them as ordinary text, ``"all"`` or a set allows them."""
        allowed = self._check_special(text, allowed_special)
        enc = self._tiktoken()
        if enc is None or not _is_utf8(text):
            return self.encode_reference(text, allowed_special)
        if not allowed:
            return enc.encode_ordinary(text)
        return enc.encode(text, allowed_special=allowed, disallowed_special=())

    def encode_batch(self, texts: Sequence[str], allowed_special: AllowedSpecial = "none_raise",
                     num_threads: int = 2) -> list[list[int]]:
        """``encode`` of each text, through tiktoken's threads when installed (the same ids as the reference)."""
        enc = self._tiktoken()
        allowed = self._allowed(allowed_special)
        for t in texts:  # the same check and message as the reference path
            self._check_special(t, allowed_special)
        if enc is None:
            return [self.encode_reference(t, allowed_special) for t in texts]
        valid = [_is_utf8(t) for t in texts]
        fast_texts = texts if all(valid) else [t for t, ok in zip(texts, valid) if ok]
        if allowed:
            fast = enc.encode_batch(fast_texts, num_threads=num_threads, allowed_special=allowed,
                                    disallowed_special=())
        else:
            fast = enc.encode_ordinary_batch(fast_texts, num_threads=num_threads)
        if all(valid):
            return fast
        it = iter(fast)
        return [next(it) if ok else self.encode_reference(t, allowed_special) for t, ok in zip(texts, valid)]

    @functools.cached_property
    def _tiktoken_encoding(self):
        """tiktoken's Encoding of this tokenizer, or None (then the reference encodes): tiktoken not installed,
        a custom pattern that tiktoken's regex engine rejects, or two tokens with the same bytes."""
        try:
            import tiktoken  # noqa: F401
        except ImportError:
            return None
        from qstar.tokenizer.export import to_tiktoken
        try:
            return to_tiktoken(self)
        except (ValueError, TokenizerError):
            return None

    def _tiktoken(self):
        return self._tiktoken_encoding

    # ---------------------------------------------------------------- decoding
    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        vocab, n = self.vocab, len(self.vocab)
        parts = []
        for i in ids:
            parts.append(vocab[i] if 0 <= i < n else self.token_bytes(i))
        return b"".join(parts)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; lone surrogates come back as they went in, bytes that are no UTF-8 become U+FFFD."""
        return bytes_to_text(self.decode_bytes(ids))

    # ---------------------------------------------------------------- interchange
    def save(self, path) -> None:
        from qstar.tokenizer.io import save
        save(self, path)

    @classmethod
    def load(cls, path) -> "BPETokenizer":
        from qstar.tokenizer.io import load
        return load(path)

    def to_tiktoken(self, name: str = "qstar-bpe"):
        from qstar.tokenizer.export import to_tiktoken
        return to_tiktoken(self, name)

    def to_hf_json(self, path) -> None:
        from qstar.tokenizer.export import to_hf_json
        to_hf_json(self, path)

    def to_transformers(self, **special_roles):
        from qstar.tokenizer.hf import to_transformers
        return to_transformers(self, **special_roles)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, BPETokenizer) and self.merges == other.merges and self.pattern == other.pattern
                and self.special_tokens == other.special_tokens)

    def __hash__(self) -> int:
        return hash((self.merges, self.pattern, tuple(self.special_tokens.items())))

    def __repr__(self) -> str:
        return (f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
                f"specials={len(self.special_tokens)})")


@functools.lru_cache(maxsize=32)
def _special_regex(specials: tuple[str, ...]) -> regex.Pattern:
    return regex.compile("|".join(regex.escape(s) for s in specials))


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False
