"""The versioned text file: round-trip, and one clear error per kind of bad file."""

from __future__ import annotations

import pytest

from qstar.tokenizer import BPETokenizer, TokenizerFileError


def test_save_load_round_trip(tok, tmp_path):
    tok.save(tmp_path / "t.bpe")
    again = BPETokenizer.load(tmp_path / "t.bpe")
    assert again == tok
    text = "The License <|endoftext|> naïve 😀"
    assert again.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    assert (tmp_path / "t.bpe").read_text().startswith("qstar-bpe 1\npattern ")


def test_odd_pattern_and_specials_survive(tmp_path):
    tok = BPETokenizer.train("ab ab\ncd\tab", 260, pattern=r"\S+|\s", special_tokens=["<x y>", 'q"\n'])
    tok.save(tmp_path / "t.bpe")
    assert BPETokenizer.load(tmp_path / "t.bpe") == tok


@pytest.mark.parametrize("content, match", [
    ("qstar-bpe 2\n", "version '2'.*reads version 1"),
    ("something else\n", "not a qstar tokenizer file"),
    ("qstar-bpe 1\npattern \"x\"\nmerges 2\n97 97\n", "cut short"),
    ("qstar-bpe 1\npattern \"x\"\nmerges 1\n97 x\nspecial 0\n", "line 4 is malformed"),
    ("qstar-bpe 1\npattern \"x\"\nmerges 1\n97 300\nspecial 0\n", "uses a token made later"),
    ("qstar-bpe 1\nmerges 0\n", "line 2 should start with 'pattern'"),
    ("qstar-bpe 1\npattern \"(\"\nmerges 0\nspecial 0\n", "does not compile"),
    ("qstar-bpe 1\npattern \"x\"\nmerges 0\nspecial 1\n5 \"<s>\"\n", "right after the merges"),
])
def test_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.bpe"
    path.write_text(content)
    with pytest.raises(TokenizerFileError, match=match):
        BPETokenizer.load(path)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(TokenizerFileError, match="cannot read"):
        BPETokenizer.load(tmp_path / "nope.bpe")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TokenizerFileError, match="cannot read"):
        BPETokenizer.load(tmp_path / "bin")
