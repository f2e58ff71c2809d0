"""Training semantics: the golden example, and the fast trainer against the recount-everything reference
(``qstar.tokenizer.reference``, kept in the package because ``qstar bench tokenizer`` times it too)."""

from __future__ import annotations

import pytest
import regex

from qstar.tokenizer import GPT2_PATTERN, GPT4_PATTERN, BPETokenizer, TokenizerError
from qstar.tokenizer.corpus import corpus
from qstar.tokenizer.reference import reference_train
from qstar.tokenizer.train import count_chunks, iter_blocks


def test_golden_aaabdaaabac():
    tok = BPETokenizer.train("aaabdaaabac", 256 + 3)
    assert tok.merges == ((97, 97), (256, 97), (257, 98))
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert tok.encode_reference("aaabdaaabac") == [258, 100, 258, 97, 99]


TEXTS = {
    "ties": "ab cd ef ab cd ef gh",  # every pair count 2 or 1: order decided by first occurrence only
    "runs": "aaaa bbbbbbb aaa ab aaaaaaa zz zzz\n\n\n   x" * 3,  # overlapping pairs
    "unicode": "héllo wörld 日本語 日本 😀😀😀 naïve café\r\n\tcafé 12345 1234567 it's I'LL\x00\x00"
               "\ud800x\udfff",
    "english": corpus(10_000, "english"),
    "code": corpus(8_000, "mixed"),
}
PATTERNS = {"gpt4": GPT4_PATTERN, "gpt2": GPT2_PATTERN}


@pytest.mark.parametrize("name", sorted(TEXTS))
@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_merges_equal_reference(name, pattern):
    text, pattern = TEXTS[name], PATTERNS[pattern]
    expected = reference_train(text, 256 + 300, pattern)
    for vocab_size in sorted({257, 256 + len(expected) // 3, 256 + len(expected)}):
        assert list(BPETokenizer.train(text, vocab_size, pattern=pattern).merges) == expected[: vocab_size - 256]


@pytest.mark.parametrize("name", ["ties", "runs", "unicode"])
def test_training_until_no_pair_is_left(name):
    text = TEXTS[name]
    full = reference_train(text, 100_000, GPT4_PATTERN)
    assert list(BPETokenizer.train(text, 256 + len(full)).merges) == full
    with pytest.raises(TokenizerError, match=f"it allows {256 + len(full)} tokens"):
        BPETokenizer.train(text, 256 + len(full) + 1)


def test_streamed_pieces_train_like_one_string():
    text = corpus(60_000, "english") + corpus(30_000, "mixed")
    pieces = [text[i:i + 997] for i in range(0, len(text), 997)]
    assert BPETokenizer.train(iter(pieces), 600) == BPETokenizer.train(text, 600)


@pytest.mark.parametrize("pattern", [GPT4_PATTERN, GPT2_PATTERN])
def test_blocks_cut_only_at_chunk_boundaries(pattern):
    text = TEXTS["unicode"] * 5 + TEXTS["code"] + TEXTS["runs"]
    blocks = list(iter_blocks([text[i:i + 50] for i in range(0, len(text), 50)], block_chars=300))
    assert "".join(blocks) == text and len(blocks) > 10
    assert count_chunks(blocks, pattern, workers=1) == count_chunks(text, pattern, workers=1)
    assert list(count_chunks(blocks, pattern, workers=1)) == list(dict.fromkeys(regex.findall(pattern, text)))


def test_parallel_regex_pass_counts_like_serial(monkeypatch):
    import qstar.tokenizer.train as train
    monkeypatch.setattr(train, "BLOCK_CHARS", 20_000)
    monkeypatch.setattr(train, "PARALLEL_MIN_CHARS", 40_000)
    text = corpus(150_000, "mixed")
    serial = count_chunks(text, GPT4_PATTERN, workers=1)
    parallel = count_chunks(text, GPT4_PATTERN, workers=2)
    assert parallel == serial and list(parallel) == list(serial)


def test_special_tokens_come_after_merges():
    tok = BPETokenizer.train("hello hello world", 256 + 4 + 2, special_tokens=["<|endoftext|>", "<|pad|>"])
    assert tok.special_tokens == {"<|endoftext|>": 260, "<|pad|>": 261}
    assert tok.vocab_size == 262


@pytest.mark.parametrize("vocab_size, match", [(255, "below 256"), (100_000, "too large for this text")])
def test_bad_vocab_size(vocab_size, match):
    with pytest.raises(TokenizerError, match=match):
        BPETokenizer.train("hello world", vocab_size)


def test_bad_pattern():
    with pytest.raises(TokenizerError, match="does not compile"):
        BPETokenizer.train("hello", 260, pattern="(unclosed")


def test_blocks_cut_between_pieces_and_never_inside_a_line():
    assert list(iter_blocks(["ab\n", "cd\n", "ef"], block_chars=2)) == ["ab\n", "cd\n", "ef"]
    assert list(iter_blocks(["ab ", "cd ", "ef"], block_chars=2)) == ["ab cd ef"]  # no line start: one block
    assert list(iter_blocks(["ab\n", " cd\nx", "y"], block_chars=2)) == ["ab\n cd\n", "xy"]
