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


def _pieces(n_chars: int, kind: str) -> Iterator[str]:
    """File texts, cut to ``n_chars`` characters in all, cycling through the files when there are too few."""
    size = 0
    while size < n_chars:
        before = size
        for t in _texts(kind):
            t = t[: n_chars - size]
            yield t
            size += len(t)
            if size >= n_chars:
                return
        if size == before:
            raise FileNotFoundError("no text files found for the benchmark corpus")


def corpus(n_chars: int, kind: str = "mixed") -> str:
    """About ``n_chars`` characters: ``kind="english"`` starts with the licences, ``"mixed"`` is Python source."""
    return "".join(_pieces(n_chars, kind))


def write_corpus(path: str | Path, n_chars: int, kind: str = "mixed") -> Path:
    """Write :func:`corpus` to ``path`` piece by piece, without holding all of it in memory."""
    path = Path(path)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.writelines(_pieces(n_chars, kind))
    return path
