"""``qstar tokenizer ...`` end to end through the real entry point, and the benchmark at toy sizes."""

from __future__ import annotations

import json

from qstar.cli.main import main
from qstar.tokenizer import BPETokenizer
from qstar.tokenizer.corpus import write_corpus


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_encode_decode_inspect(tmp_path, capsys):
    text = write_corpus(tmp_path / "t.txt", 50_000, "english")
    model = str(tmp_path / "t.bpe")
    code, out, _ = run(capsys, "tokenizer", "train", str(text), "--vocab-size", "500", "--special", "<|endoftext|>",
                       "-o", model, "--hf-json", str(tmp_path / "tokenizer.json"), "--json")
    assert code == 0 and json.loads(out.splitlines()[-1])["vocab_size"] == 500
    assert BPETokenizer.load(model).special_tokens == {"<|endoftext|>": 499}
    assert (tmp_path / "tokenizer.json").exists()

    code, out, _ = run(capsys, "tokenizer", "encode", model, "the License<|endoftext|>", "--allow-special")
    ids = out.split()
    assert code == 0 and ids[-1] == "499"
    code, out, _ = run(capsys, "tokenizer", "decode", model, *ids)
    assert code == 0 and out == "the License<|endoftext|>\n"

    code, out, _ = run(capsys, "tokenizer", "inspect", model, "--text", "the License", "--json")
    result = json.loads(out.splitlines()[-1])
    assert code == 0 and "".join(result["pieces"]) == "the License" and len(result["longest"]) == 15
    code, out, _ = run(capsys, "tokenizer", "inspect", model, "--text", "the License")
    assert code == 0 and "longest tokens" in out and "first merges" in out


def test_one_line_errors(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("hello world, hello there")
    model = tmp_path / "t.bpe"
    BPETokenizer.train(text.read_text(), 260, special_tokens=["<|endoftext|>"]).save(model)
    (tmp_path / "v9.bpe").write_text("qstar-bpe 9\n")
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 " * 10)
    out = ["-o", str(tmp_path / "x")]
    cases = [
        (["tokenizer", "train", str(tmp_path / "nope.txt"), "--vocab-size", "300", *out], "no such file"),
        (["tokenizer", "train", str(tmp_path / "latin1.txt"), "--vocab-size", "257", *out], "cannot read"),
        (["tokenizer", "train", str(text), "--vocab-size", "100", *out], "below 256"),
        (["tokenizer", "train", str(text), "--vocab-size", "5000", *out], "too large for this text"),
        (["tokenizer", "train", str(text), "--vocab-size", "300", "--pattern", "(", *out], "does not compile"),
        (["tokenizer", "encode", str(tmp_path / "v9.bpe"), "hi"], "reads version 1"),
        (["tokenizer", "encode", str(model), "a<|endoftext|>"], "--allow-special"),
        (["tokenizer", "decode", str(model), "1", "260"], "out of range"),
        (["tokenizer", "decode", str(model), "x"], "must be integers"),
    ]
    for argv, message in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x").exists()


def test_benchmark_pieces_at_toy_size(tmp_path):
    from qstar.tokenizer.bench import bench_encode, bench_large_training
    large = bench_large_training(100_000, 500, tmp_path)
    assert large["ours"]["seconds"] > 0 and large["hf"]["vocab"] == 500 and large["ours"]["peak_rss_mb"] > 0
    enc = bench_encode(large["tokenizer"], n_chars=100_000, reference_chars=20_000)
    assert enc["same_ids"] and enc["bulk_mb_s"] > 0 and enc["reference_mb_s"] > 0
