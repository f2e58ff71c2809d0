import json

from qstar.core.atomic import append_jsonl, atomic_write_json, read_jsonl


def test_atomic_write_and_torn_jsonl(tmp_path):
    p = atomic_write_json(tmp_path / "a" / "x.json", {"k": 1})
    assert json.loads(p.read_text()) == {"k": 1}
    assert [f.name for f in p.parent.iterdir()] == ["x.json"]  # no temp files left
    m = tmp_path / "m.jsonl"
    append_jsonl(m, {"i": 1})
    append_jsonl(m, {"i": 2})
    with open(m, "a") as f:
        f.write('{"i": 3')  # a line torn by a kill
    assert read_jsonl(m) == [{"i": 1}, {"i": 2}]
