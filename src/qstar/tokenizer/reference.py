"""The deliberately simple trainer: recount every pair in every chunk after every merge.

It is the definition the fast trainer (:mod:`qstar.tokenizer.train`) is tested against, and the slow path that
``qstar bench tokenizer`` times it against. Ties: ``max`` keeps the first pair it saw, i.e. the pair whose first
occurrence in the current tokenized text comes earliest.
"""

from __future__ import annotations

import regex


def reference_train(text: str, vocab_size: int, pattern: str) -> list[tuple[int, int]]:
    """Merges (pairs of ids; merge i makes id 256 + i) until ``vocab_size`` or until no pair is left."""
    chunks = [list(c.encode("utf-8", "surrogatepass")) for c in regex.findall(pattern, text)]
    merges = []
    for new_id in range(256, vocab_size):
        stats: dict[tuple[int, int], int] = {}
        for ids in chunks:
            for pair in zip(ids, ids[1:]):
                stats[pair] = stats.get(pair, 0) + 1
        if not stats:
            break
        pair = max(stats, key=stats.get)
        merges.append(pair)
        new_chunks = []
        for ids in chunks:
            out, i = [], 0
            while i < len(ids):
                if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            new_chunks.append(out)
        chunks = new_chunks
    return merges
