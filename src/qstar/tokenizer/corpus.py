"""Benchmark and test text built from files already on the machine (no downloads), deterministic for a given
machine: the licences in /usr/share/common-licenses (English prose) and the Python standard library sources."""

from __future__ import annotations

import sysconfig
from pathlib import Path
from typing import Iterator

LICENSES = Path("/usr/share/common-licenses")


def _files(kind: str) -> Iterator[Path]:
    if kind == "english" and LICENSES.is_dir():
        yield from sorted(p for p in LICENSES.rglob("*") if p.is_file())
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    yield from sorted(stdlib.rglob("*.py"))


def _texts(kind: str) -> Iterator[str]:
    for p in _files(kind):
        try:
            yield p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue


def corpus(n_chars: int, kind: str = "mixed") -> str:
    """About ``n_chars`` characters: ``kind="english"`` starts with the licences, ``"mixed"`` is Python source.
    Files repeat (cycled) when the machine has less text than asked."""
    parts, size = [], 0
    while size < n_chars:
        before = size
        for t in _texts(kind):
            parts.append(t)
            size += len(t)
            if size >= n_chars:
                break
        if size == before:
            raise FileNotFoundError("no text files found for the benchmark corpus")
    return "".join(parts)[:n_chars]


def write_corpus(path: str | Path, n_chars: int, kind: str = "mixed") -> Path:
    """Write the corpus to ``path`` in pieces, without holding all of it in memory."""
    path = Path(path)
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        while size < n_chars:
            before = size
            for t in _texts(kind):
                t = t[: n_chars - size]
                f.write(t)
                size += len(t)
                if size >= n_chars:
                    break
            if size == before:
                raise FileNotFoundError("no text files found for the benchmark corpus")
    return path
