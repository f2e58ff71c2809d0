"""Errors and the small byte-level helpers shared by the trainer, the encoder and the exporters."""

from __future__ import annotations

from qstar.core.errors import QstarError


class TokenizerError(QstarError):
    """A tokenizer cannot be trained, loaded or used as asked; the message says what is allowed."""


class SpecialTokenError(TokenizerError):
    """Text contains a special token that the caller did not allow."""


class TokenizerFileError(TokenizerError):
    """A tokenizer file that is missing, of another version, or malformed."""


class TokenIdError(TokenizerError):
    """A token id outside ``[0, vocab_size)``."""


def pair_counts(ids: list[int], counts: dict[tuple[int, int], int] | None = None, weight: int = 1
                ) -> dict[tuple[int, int], int]:
    """Count adjacent pairs, overlapping ones included, in first-occurrence order.

    ``[1, 2, 3, 1, 2] -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}``;  ``[7, 7, 7] -> {(7, 7): 2}``.
    """
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each occurrence of ``pair``, scanning left to right without overlap, by ``new_id``.

    ``merge_pair([7, 7, 7, 1], (7, 7), 9) -> [9, 7, 1]``.
    """
    a, b = pair
    out, i, n = [], 0, len(ids)
    while i < n:
        if ids[i] == a and i + 1 < n and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def text_to_bytes(text: str) -> bytes:
    """UTF-8, with lone surrogates (legal in a Python ``str``) written as their 3-byte form (``surrogatepass``),
    so that every ``str`` has bytes and comes back unchanged from :func:`bytes_to_text`."""
    return text.encode("utf-8", "surrogatepass")


def bytes_to_text(data: bytes) -> str:
    """Inverse of :func:`text_to_bytes`; bytes that are no UTF-8 at all (a cut-off token sequence) become U+FFFD."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def render_token(token: bytes) -> str:
    """A token made printable: control characters escaped, invalid UTF-8 as U+FFFD (for ``inspect``)."""
    text = token.decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map, used by Hugging Face's ``ByteLevel`` (space -> 'Ġ')."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping, extra = {}, 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping
