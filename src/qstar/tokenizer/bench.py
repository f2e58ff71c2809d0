"""``qstar bench tokenizer``: each figure measured side by side with the slow path it names, in one run.

1. Training at vocab 2048 on ~200 KB of English: the fast trainer against the recount-everything reference.
2. Training at vocab 32000 on ~100 MB (``quick``: 10 MB): against Hugging Face ``tokenizers``' BpeTrainer with the same
   split pattern, each in its own process so that peak memory (max RSS) is its own.
3. Encoding throughput (MB of UTF-8 per second): our bulk path (``encode_batch``), plain tiktoken on the same ranks,
   and the pure-Python reference encoder.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from qstar.tokenizer.corpus import corpus, write_corpus
from qstar.tokenizer.patterns import GPT4_PATTERN


def _timed(fn: Callable):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_small_training(vocab_size: int = 2048, reference_vocab_size: int | None = None) -> dict:
    """Fast trainer vs the reference on ~200 KB of English; both must give the same merges."""
    from qstar.tokenizer.bpe import BPETokenizer
    from qstar.tokenizer.reference import reference_train

    text = corpus(200_000, "english")
    ref_vocab = reference_vocab_size or vocab_size
    fast, fast_s = _timed(lambda: BPETokenizer.train(text, vocab_size, workers=1))
    fast_ref_vocab, fast_ref_s = _timed(lambda: BPETokenizer.train(text, ref_vocab, workers=1))
    ref, ref_s = _timed(lambda: reference_train(text, ref_vocab, GPT4_PATTERN))
    return {"text_bytes": len(text.encode()), "vocab_size": vocab_size, "fast_s": fast_s,
            "reference_vocab_size": ref_vocab, "reference_s": ref_s, "fast_at_reference_vocab_s": fast_ref_s,
            "speedup": ref_s / fast_ref_s, "same_merges": list(fast_ref_vocab.merges) == ref,
            "merges_per_s": len(fast.merges) / fast_s}


def _child(args: list[str]) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    out = subprocess.run([sys.executable, "-m", "qstar.tokenizer.bench", *args], check=True, capture_output=True,
                         text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _usage() -> dict:
    """Peak memory (max RSS) of this process and of its finished workers, and CPU seconds of both together
    (less sensitive than wall time to other jobs on a shared machine)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"peak_rss_mb": round(own.ru_maxrss / 1024, 1), "peak_rss_workers_mb": round(kids.ru_maxrss / 1024, 1),
            "cpu_s": round(own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime, 2)}


def train_ours(path: str, vocab_size: int, out: str) -> dict:
    from qstar.tokenizer.bpe import BPETokenizer

    def stream():
        with open(path, encoding="utf-8", newline="") as f:
            while piece := f.read(1 << 20):
                yield piece
    tok, seconds = _timed(lambda: BPETokenizer.train(stream(), vocab_size))
    tok.save(out)
    return {"seconds": seconds, **_usage()}


def train_hf(path: str, vocab_size: int) -> dict:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GPT4_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    _, seconds = _timed(lambda: tok.train([path], trainer))
    return {"seconds": seconds, "vocab": tok.get_vocab_size(), **_usage()}


def bench_large_training(n_chars: int, vocab_size: int, workdir: Path) -> dict:
    path = write_corpus(workdir / "corpus.txt", n_chars, "mixed")
    ours = _child(["train-ours", str(path), str(vocab_size), str(workdir / "big.bpe")])
    hf = _child(["train-hf", str(path), str(vocab_size)])
    return {"text_mb": path.stat().st_size / 1e6, "vocab_size": vocab_size, "ours": ours, "hf": hf,
            "ratio_vs_hf": ours["seconds"] / hf["seconds"], "tokenizer": str(workdir / "big.bpe")}


def bench_encode(tok_path: str, n_chars: int = 8_000_000, reference_chars: int = 1_000_000) -> dict:
    """Throughput on documents of ~10 KB (the way a dataset is encoded) and on one long string, best of three."""
    from qstar.tokenizer.bpe import BPETokenizer

    tok = BPETokenizer.load(tok_path)
    text = corpus(2_000_000, "english")[-200_000:] + corpus(n_chars + 2_000_000, "mixed")[2_000_000:]
    docs = [text[i:i + 10_000] for i in range(0, len(text), 10_000)]
    mb = len(text.encode()) / 1e6
    enc = tok.to_tiktoken()
    tok.encode("warm up")
    ours_s = plain_s = one_s = plain_one_s = float("inf")
    for _ in range(3):  # alternate and keep the best of three: the machine is shared
        ours, t = _timed(lambda: tok.encode_batch(docs))
        ours_s = min(ours_s, t)
        plain, t = _timed(lambda: enc.encode_ordinary_batch(docs, num_threads=2))
        plain_s = min(plain_s, t)
        one, t = _timed(lambda: tok.encode(text))
        one_s = min(one_s, t)
        plain_one, t = _timed(lambda: enc.encode_ordinary(text))
        plain_one_s = min(plain_one_s, t)
    ref_text = text[:reference_chars]
    ref, ref_s = _timed(lambda: tok.encode_reference(ref_text))
    return {"text_mb": mb, "vocab_size": tok.vocab_size,
            "bulk_mb_s": mb / ours_s, "tiktoken_bulk_mb_s": mb / plain_s, "bulk_vs_tiktoken": plain_s / ours_s,
            "single_mb_s": mb / one_s, "tiktoken_single_mb_s": mb / plain_one_s,
            "reference_mb_s": len(ref_text.encode()) / 1e6 / ref_s,
            "same_ids": ours == plain and one == plain_one and ref == tok.encode(ref_text)}


def run_all(quick: bool = False, log: Callable[[str], None] = print) -> dict:
    result = {"machine": f"{os.cpu_count()} CPUs, {sys.platform}", "quick": quick}
    log("1/3 training at vocab 2048 on ~200 KB of English, fast vs recount-everything reference ...")
    result["small"] = s = bench_small_training(2048, reference_vocab_size=512 if quick else None)
    log(f"    fast {s['fast_s']:.2f} s at vocab 2048; at vocab {s['reference_vocab_size']}: reference "
        f"{s['reference_s']:.1f} s vs fast {s['fast_at_reference_vocab_s']:.2f} s = {s['speedup']:.0f}x "
        f"(same merges: {s['same_merges']})")
    n_chars = 10_000_000 if quick else 100_000_000
    with tempfile.TemporaryDirectory() as tmp:
        log(f"2/3 training at vocab 32000 on {n_chars / 1e6:.0f} MB, ours vs Hugging Face tokenizers ...")
        result["large"] = g = bench_large_training(n_chars, 32000, Path(tmp))
        for name in ("ours", "hf"):
            r = g[name]
            log(f"    {name:4s} {r['seconds']:6.1f} s wall, {r['cpu_s']:6.1f} CPU s, "
                f"peak RSS {r['peak_rss_mb']:.0f} MB "
                f"(+ workers {r['peak_rss_workers_mb']:.0f} MB)")
        log(f"    ours / HF wall time: {g['ratio_vs_hf']:.2f}x")
        log("3/3 encoding throughput with that tokenizer ...")
        result["encode"] = e = bench_encode(g["tokenizer"], 2_000_000 if quick else 8_000_000)
        log(f"    bulk {e['bulk_mb_s']:.1f} MB/s vs tiktoken {e['tiktoken_bulk_mb_s']:.1f} MB/s "
            f"({e['bulk_vs_tiktoken']:.2f}x); one string {e['single_mb_s']:.1f} vs "
            f"{e['tiktoken_single_mb_s']:.1f} MB/s; pure Python {e['reference_mb_s']:.2f} MB/s; "
            f"same ids: {e['same_ids']}")
        del g["tokenizer"]
    return result


if __name__ == "__main__":  # the child processes of bench_large_training
    cmd, *rest = sys.argv[1:]
    if cmd == "train-ours":
        print(json.dumps(train_ours(rest[0], int(rest[1]), rest[2])))
    elif cmd == "train-hf":
        print(json.dumps(train_hf(rest[0], int(rest[1]))))
    else:
        raise SystemExit(f"unknown command {cmd!r}; use train-ours or train-hf")
