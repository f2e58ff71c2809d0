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


def _peak_mb() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own, 1), "peak_rss_workers_mb": round(kids, 1)}


def train_ours(path: str, vocab_size: int, out: str) -> dict:
    from qstar.tokenizer.bpe import BPETokenizer

    def stream():
        with open(path, encoding="utf-8", newline="") as f:
            while piece := f.read(1 << 20):
                yield piece
    tok, seconds = _timed(lambda: BPETokenizer.train(stream(), vocab_size))
    tok.save(out)
    return {"seconds": seconds, **_peak_mb()}


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
    return {"seconds": seconds, "vocab": tok.get_vocab_size(), **_peak_mb()}


def bench_large_training(n_chars: int, vocab_size: int, workdir: Path) -> dict:
    path = write_corpus(workdir / "corpus.txt", n_chars, "mixed")
    ours = _child(["train-ours", str(path), str(vocab_size), str(workdir / "big.bpe")])
    hf = _child(["train-hf", str(path), str(vocab_size)])
    return {"text_mb": path.stat().st_size / 1e6, "vocab_size": vocab_size, "ours": ours, "hf": hf,
            "ratio_vs_hf": ours["seconds"] / hf["seconds"], "tokenizer": str(workdir / "big.bpe")}


def bench_encode(tok_path: str, n_chars: int = 8_000_000, reference_chars: int = 1_000_000) -> dict:
    """Throughput on documents of ~10 KB (the way a dataset is encoded) and on one long string."""
    from qstar.tokenizer.bpe import BPETokenizer

    tok = BPETokenizer.load(tok_path)
    text = corpus(2_000_000, "english")[-200_000:] + corpus(n_chars + 2_000_000, "mixed")[2_000_000:]
    docs = [text[i:i + 10_000] for i in range(0, len(text), 10_000)]
    mb = len(text.encode()) / 1e6
    enc = tok.to_tiktoken()
    tok.encode("warm up")
    ours, ours_s = _timed(lambda: tok.encode_batch(docs))
    plain, plain_s = _timed(lambda: enc.encode_ordinary_batch(docs, num_threads=2))
    one, one_s = _timed(lambda: tok.encode(text))
    plain_one, plain_one_s = _timed(lambda: enc.encode_ordinary(text))
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
        log(f"    ours {g['ours']['seconds']:.1f} s (peak {g['ours']['peak_rss_mb']:.0f} MB, workers "
            f"{g['ours']['peak_rss_workers_mb']:.0f} MB), HF {g['hf']['seconds']:.1f} s (peak "
            f"{g['hf']['peak_rss_mb']:.0f} MB): {g['ratio_vs_hf']:.2f}x HF's time")
        log("3/3 encoding throughput with that tokenizer ...")
        result["encode"] = e = bench_encode(g["tokenizer"], 2_000_000 if quick else 8_000_000)
        log(f"    bulk {e['bulk_mb_s']:.1f} MB/s vs tiktoken {e['tiktoken_bulk_mb_s']:.1f} MB/s "
            f"({e['bulk_vs_tiktoken']:.2f}x); one string {e['single_mb_s']:.1f} vs {e['tiktoken_single_mb_s']:.1f} MB/s;"
            f" pure Python {e['reference_mb_s']:.2f} MB/s; same ids: {e['same_ids']}")
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
