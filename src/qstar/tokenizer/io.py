"""The tokenizer file: small, versioned, plain text, readable with ``head``.

::

    qstar-bpe 1
    pattern "<the split regex as a JSON string>"
    merges 3
    97 97
    256 97
    ...
    special 1
    259 "<|endoftext|>"

Merge ``i`` (0-based) makes token ``256 + i``; special tokens follow with their ids.
"""

from __future__ import annotations

import json
from pathlib import Path

from qstar.core.atomic import atomic_write_text
from qstar.tokenizer.base import TokenizerError, TokenizerFileError

MAGIC = "qstar-bpe"
VERSION = 1


def dumps(tok) -> str:
    lines = [f"{MAGIC} {VERSION}", f"pattern {json.dumps(tok.pattern)}", f"merges {len(tok.merges)}"]
    lines += [f"{a} {b}" for a, b in tok.merges]
    lines.append(f"special {len(tok.special_tokens)}")
    lines += [f"{i} {json.dumps(s)}" for s, i in sorted(tok.special_tokens.items(), key=lambda x: x[1])]
    return "\n".join(lines) + "\n"


def save(tok, path: str | Path) -> Path:
    return atomic_write_text(path, dumps(tok))


def loads(text: str, source: str = "<string>"):
    from qstar.tokenizer.bpe import BPETokenizer

    lines = text.split("\n")
    pos = 0

    def field(name: str) -> str:
        nonlocal pos
        line = lines[pos] if pos < len(lines) else ""
        key, _, value = line.partition(" ")
        if key != name:
            raise TokenizerFileError(f"{source}: line {pos + 1} should start with '{name}', found {line[:40]!r}")
        pos += 1
        return value

    magic, _, version = (lines[0] if lines else "").partition(" ")
    if magic != MAGIC:
        raise TokenizerFileError(f"{source} is not a qstar tokenizer file (first line should be '{MAGIC} {VERSION}')")
    if version != str(VERSION):
        raise TokenizerFileError(f"{source} is a version {version!r} tokenizer file; "
                                 f"this qstar reads version {VERSION}")
    pos = 1
    try:
        pattern = json.loads(field("pattern"))
        merges = []
        for _ in range(int(field("merges"))):
            a, b = lines[pos].split(" ")
            merges.append((int(a), int(b)))
            pos += 1
        specials = {}
        for _ in range(int(field("special"))):
            i, s = lines[pos].split(" ", 1)
            specials[json.loads(s)] = int(i)
            pos += 1
    except TokenizerFileError:
        raise
    except (ValueError, IndexError, json.JSONDecodeError):
        raise TokenizerFileError(f"{source}: line {pos + 1} is malformed or the file is cut short") from None
    if any(line.strip() for line in lines[pos:]):
        raise TokenizerFileError(f"{source}: unexpected content after line {pos}")
    try:
        return BPETokenizer(merges, pattern, specials)
    except TokenizerError as e:
        raise TokenizerFileError(f"{source}: {e}") from None


def load(path: str | Path):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TokenizerFileError(f"cannot read tokenizer file {path}: {getattr(e, 'strerror', None) or e}") from None
    return loads(text, str(path))
