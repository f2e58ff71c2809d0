"""The fast trainer: unique chunks with their counts, incremental pair counts, and a heap of candidate merges.

Semantics (the same as the recount-everything reference, and as minbpe): the training text is cut into chunks by the
split pattern; each chunk starts as its UTF-8 bytes. At every step, count every adjacent pair of tokens inside every
chunk, overlapping occurrences included (``aaa`` holds ``(a, a)`` twice); merge the most frequent pair into a new token
everywhere (left to right, without overlap); ties go to the pair whose first occurrence in the current tokenized text
comes earliest. Repeat until the vocabulary is full.

How it is fast:
- The text is read in blocks, cut only where a line starts with a non-space character (always a chunk boundary for the
  GPT-2/GPT-4 patterns), and the regex pass runs in worker processes; only the counts of unique chunks are kept, so
  memory grows with the number of distinct chunks, not with the text.
- Pair counts are weighted by chunk multiplicity; an index maps each pair to the chunks holding it, so a merge rewrites
  only those chunks and adjusts only their pairs.
- Candidates sit in a heap with lazy deletion, keyed by (count, first occurrence); see :func:`train_merges`.
"""

from __future__ import annotations

import heapq
import itertools
import multiprocessing as mp
import os
from collections import Counter
from typing import Iterable, Iterator

import regex

from qstar.core.progress import progress_bar
from qstar.tokenizer.base import TokenizerError, text_to_bytes
from qstar.tokenizer.patterns import compile_pattern

BLOCK_CHARS = 1 << 20  # regex pass granularity: one block per worker task
PARALLEL_MIN_CHARS = 8 << 20  # below this, worker start-up costs more than it saves
_SPACE = regex.compile(r"\s")  # what the patterns call whitespace (Python's isspace differs on a few characters)


def iter_blocks(texts: Iterable[str], block_chars: int = BLOCK_CHARS) -> Iterator[str]:
    """Re-cut a stream of text pieces into blocks of about ``block_chars`` whose concatenation is the input.

    A block ends just before a non-space character that follows a newline, so that no GPT-2/GPT-4 chunk straddles two
    blocks (a custom pattern whose matches cross such a point would be cut there).
    """
    buf: list[str] = []
    size = 0
    for piece in texts:
        if not piece:
            continue
        buf.append(piece)
        size += len(piece)
        if size < block_chars:
            continue
        prev = buf[-2][-1] if len(buf) >= 2 else ""  # one character of context before the newest piece
        k = _last_cut(prev + piece) - len(prev)  # only the newest piece is searched: linear in the input
        if k < 0 or (k == 0 and not prev):
            continue
        yield "".join(buf[:-1]) + piece[:k]
        buf = [piece[k:]] if k < len(piece) else []
        size = len(piece) - k
    if buf:
        yield "".join(buf)


def _last_cut(text: str) -> int:
    """Index of the last position p with text[p-1] == '\\n' and text[p] not whitespace; -1 if none."""
    p = text.rfind("\n")
    while p >= 0:
        if p + 1 < len(text) and not text[p + 1].isspace() and not _SPACE.match(text[p + 1]):
            return p + 1
        p = text.rfind("\n", 0, p)
    return -1


def _count_block(args: tuple[str, str]) -> Counter:
    block, pattern = args
    return Counter(compile_pattern(pattern).findall(block))


def count_chunks(texts: Iterable[str], pattern: str, workers: int | None = None, progress: bool = False
                 ) -> dict[str, int]:
    """Distinct chunks of the text and how often each occurs, in order of first occurrence."""
    if isinstance(texts, str):
        texts = [texts]
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    blocks = iter_blocks(texts)
    first = list(_take(blocks, PARALLEL_MIN_CHARS // BLOCK_CHARS))
    counts: Counter = Counter()
    with progress_bar("regex pass", None, unit="MB", enabled=progress) as advance:
        if workers <= 1 or len(first) < PARALLEL_MIN_CHARS // BLOCK_CHARS:
            for block in itertools.chain(first, blocks):
                counts.update(_count_block((block, pattern)))
                advance(len(block) / 1e6)
            return counts
        ctx = mp.get_context("spawn")  # fork is unsafe once torch/tiktoken threads exist in this process
        with ctx.Pool(workers) as pool:
            jobs = ((b, pattern) for b in itertools.chain(first, blocks))
            for part in pool.imap(_count_block, jobs, chunksize=1):  # imap keeps block order: first occurrence
                counts.update(part)
                advance(sum(len(c) * n for c, n in part.items()) / 1e6)
    return counts


def _take(it: Iterator[str], n: int) -> Iterator[str]:
    for _, item in zip(range(n), it):
        yield item


def train_merges(chunk_counts: dict[str, int], num_merges: int, progress: bool = False) -> list[tuple[int, int]]:
    """The first ``num_merges`` merges (pairs of token ids; merge i makes token 256 + i) for these chunk counts,
    given in order of first occurrence. Raises TokenizerError if the text runs out of pairs first.

    Heap entries are ``(-count, chunk, offset, pair)``: the count and the first occurrence (chunk index, byte offset
    in the chunk) as last known. For a pair that exists already, a merge can only lower its count and move its first
    occurrence later, so a stored entry is never worse than the truth; the popped entry is the answer once its stored
    key equals the pair's true key, and is pushed back with the true key otherwise.
    """
    words: list[list[int]] = []
    freqs: list[int] = []
    for chunk, n in chunk_counts.items():
        b = text_to_bytes(chunk)
        if len(b) > 1:
            words.append(list(b))
            freqs.append(n)
    counts: dict[tuple[int, int], int] = {}
    where: dict[tuple[int, int], list[int]] = {}  # pair -> chunks that held it, ascending, possibly stale
    heap = []
    for c, w in enumerate(words):
        f = freqs[c]
        for i, pair in enumerate(zip(w, w[1:])):
            if pair in counts:
                counts[pair] += f
                lst = where[pair]
                if lst[-1] != c:
                    lst.append(c)
            else:
                counts[pair] = f
                where[pair] = [c]
                heap.append((0, c, i, pair))  # bytes are 1 long: offset = position
    heap = [(-counts[pair], c, i, pair) for _, c, i, pair in heap]
    heapq.heapify(heap)
    lengths = [1] * 256  # byte length of each token

    merges: list[tuple[int, int]] = []
    with progress_bar("bpe merges", num_merges, unit="merges", enabled=progress) as advance:
        while len(merges) < num_merges:
            pair = _pop_best(heap, counts, where, words, lengths)
            if pair is None:
                raise TokenizerError(
                    f"vocab size too large for this text: it allows {256 + len(merges)} tokens (256 bytes + "
                    f"{len(merges)} merges) before no pair is left; use a smaller --vocab-size or more text")
            new_id = 256 + len(merges)
            merges.append(pair)
            lengths.append(lengths[pair[0]] + lengths[pair[1]])
            _apply_merge(pair, new_id, words, freqs, counts, where, heap, lengths)
            advance(1)
    return merges


def _pop_best(heap: list, counts: dict, where: dict, words: list[list[int]], lengths: list[int]
              ) -> tuple[int, int] | None:
    """Pop the pair with the highest count, first occurring on a tie. None if no pair is left."""
    while heap:
        neg, c, off, pair = heapq.heappop(heap)
        cur = counts.get(pair, 0)
        if cur == 0:
            continue
        if cur != -neg:
            heapq.heappush(heap, (-cur, c, off, pair))
            continue
        first = _first_occurrence(pair, where[pair], words, lengths)
        if first == (c, off):
            return pair
        heapq.heappush(heap, (neg, *first, pair))
    return None


def _first_occurrence(pair: tuple[int, int], chunks: list[int], words: list[list[int]], lengths: list[int]
                      ) -> tuple[int, int]:
    """(chunk index, byte offset) of the first occurrence of ``pair``; drops stale chunks from the front of the
    index on the way. Chunks are numbered in order of first occurrence in the text."""
    a, b = pair
    for k, c in enumerate(chunks):
        w = words[c]
        off = 0
        for i in range(len(w) - 1):
            if w[i] == a and w[i + 1] == b:
                del chunks[:k]
                return c, off
            off += lengths[w[i]]
    raise AssertionError(f"pair {pair} has a count but no occurrence")


def _apply_merge(pair: tuple[int, int], new_id: int, words: list[list[int]], freqs: list[int],
                 counts: dict, where: dict, heap: list, lengths: list[int]) -> None:
    a, b = pair
    created: list[tuple[int, int]] = []
    for c in where.pop(pair):
        w = words[c]
        n = len(w)
        # rewrite the chunk; skip it if the pair is gone (the index is allowed to be stale)
        out = []
        i = 0
        hit = False
        while i < n:
            if w[i] == a and i + 1 < n and w[i + 1] == b:
                out.append(new_id)
                i += 2
                hit = True
            else:
                out.append(w[i])
                i += 1
        if not hit:
            continue
        f = freqs[c]
        for p in zip(w, w[1:]):
            counts[p] -= f
        for p in zip(out, out[1:]):
            if p in counts:
                counts[p] += f
            else:
                counts[p] = f
            if new_id in p:
                lst = where.get(p)
                if lst is None:
                    where[p] = [c]
                    created.append(p)
                elif lst[-1] != c:
                    lst.append(c)
        words[c] = out
    counts.pop(pair, None)
    for p in created:  # chunks were visited in ascending order, so where[p][0] holds the first occurrence
        heapq.heappush(heap, (-counts[p], *_first_occurrence(p, where[p], words, lengths), p))
