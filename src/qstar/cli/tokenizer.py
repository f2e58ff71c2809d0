"""``qstar tokenizer train|encode|decode|inspect`` and ``qstar bench tokenizer``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from qstar.cli.app import JSON_HELP, app, bench_app

tokenizer_app = typer.Typer(no_args_is_help=True, help="Byte-level BPE tokenizers (GPT-2/GPT-4 style).")
app.add_typer(tokenizer_app, name="tokenizer")

ALLOW_HELP = "Encode special tokens found in the text as special ids (else such text is refused)."


def _read_text(path: Path) -> str:
    from qstar.tokenizer import TokenizerError
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TokenizerError(f"cannot read text file {path}: {getattr(e, 'strerror', None) or e}") from None


def _stream(path: Path):
    """The file in 1 MB pieces (newlines kept as they are), with read errors turned into one line."""
    from qstar.tokenizer import TokenizerError
    try:
        with open(path, encoding="utf-8", newline="") as f:
            while piece := f.read(1 << 20):
                yield piece
    except (OSError, UnicodeDecodeError) as e:
        raise TokenizerError(f"cannot read training file {path}: {getattr(e, 'strerror', None) or e}") from None


@tokenizer_app.command("train")
def train(file: Path = typer.Argument(..., help="UTF-8 text to learn from (streamed)."),
          vocab_size: int = typer.Option(..., "--vocab-size", "-v",
                                         help="Tokens in all: 256 bytes + merges + specials."),
          pattern: str = typer.Option("gpt4", help="Split regex: 'gpt2', 'gpt4' or a regex of your own."),
          output: Path = typer.Option(..., "-o", "--output", help="Tokenizer file to write."),
          special: List[str] = typer.Option([], "--special", help="A special token, e.g. '<|endoftext|>' (repeat)."),
          hf_json: Optional[Path] = typer.Option(None, help="Also write a Hugging Face tokenizer.json here."),
          json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Learn a tokenizer from FILE and save it."""
    import time

    from qstar.cli.output import emit_json
    from qstar.tokenizer import BPETokenizer, TokenizerError
    if not file.is_file():
        raise TokenizerError(f"cannot read training file {file}: no such file")
    t0 = time.perf_counter()
    tok = BPETokenizer.train(_stream(file), vocab_size, pattern=pattern, special_tokens=special, progress=True)
    seconds = time.perf_counter() - t0
    tok.save(output)
    if hf_json:
        tok.to_hf_json(hf_json)
    result = {"output": str(output), "vocab_size": tok.vocab_size, "merges": len(tok.merges),
              "specials": len(tok.special_tokens), "seconds": round(seconds, 3)}
    if json_out:
        emit_json(result)
    else:
        print(f"wrote {output}: {tok.vocab_size} tokens ({len(tok.merges)} merges, {len(tok.special_tokens)} "
              f"special) in {seconds:.1f} s")


@tokenizer_app.command("encode")
def encode(model: Path = typer.Argument(..., help="Tokenizer file."),
           text: Optional[str] = typer.Argument(None, help="Text to encode (default: --file or stdin)."),
           file: Optional[Path] = typer.Option(None, "--file", "-f", help="Encode this UTF-8 file."),
           allow_special: bool = typer.Option(False, help=ALLOW_HELP),
           json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Print the token ids of a text, space-separated."""
    from qstar.cli.output import emit_json
    from qstar.tokenizer import BPETokenizer, SpecialTokenError
    tok = BPETokenizer.load(model)
    if text is None:
        text = _read_text(file) if file else sys.stdin.read()
    try:
        ids = tok.encode(text, allowed_special="all" if allow_special else "none_raise")
    except SpecialTokenError as e:
        raise SpecialTokenError(f"{str(e).split(';')[0]}; pass --allow-special to encode special tokens") from None
    if json_out:
        emit_json({"ids": ids, "tokens": len(ids), "chars": len(text)})
    else:
        print(" ".join(map(str, ids)))


@tokenizer_app.command("decode")
def decode(model: Path = typer.Argument(..., help="Tokenizer file."),
           ids: Optional[List[str]] = typer.Argument(None, help="Token ids (default: read from stdin)."),
           json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Print the text of token ids."""
    from qstar.cli.output import emit_json
    from qstar.tokenizer import BPETokenizer, TokenizerError
    tok = BPETokenizer.load(model)
    words = ids if ids else sys.stdin.read().replace(",", " ").split()
    try:
        numbers = [int(w) for w in words]
    except ValueError:
        raise TokenizerError("token ids must be integers separated by spaces or commas") from None
    text = tok.decode(numbers)
    if json_out:
        emit_json({"text": text})
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@tokenizer_app.command("inspect")
def inspect(model: Path = typer.Argument(..., help="Tokenizer file."),
            text: Optional[str] = typer.Option(None, "--text", "-t", help="Show how this text splits into tokens."),
            top: int = typer.Option(15, help="How many longest tokens and first merges to list."),
            json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Longest tokens, the first merges, and a text coloured token by token."""
    from rich.console import Console
    from rich.text import Text

    from qstar.cli.output import emit_json, print_table
    from qstar.tokenizer import BPETokenizer
    from qstar.tokenizer.base import render_token
    tok = BPETokenizer.load(model)
    longest = sorted(range(256, len(tok.vocab)), key=lambda i: (-len(tok.vocab[i]), i))[:top]
    merges = [(256 + i, a, b) for i, (a, b) in enumerate(tok.merges[:top])]
    ids = tok.encode(text, allowed_special="all") if text is not None else []
    if json_out:
        emit_json({"vocab_size": tok.vocab_size, "merges": len(tok.merges), "specials": tok.special_tokens,
                   "pattern": tok.pattern, "longest": [[i, render_token(tok.vocab[i])] for i in longest],
                   "first_merges": [[i, a, b] for i, a, b in merges], "ids": ids,
                   "pieces": [render_token(tok.token_bytes(i)) for i in ids]})
        return
    print(f"{model}: {tok.vocab_size} tokens = 256 bytes + {len(tok.merges)} merges + "
          f"{len(tok.special_tokens)} special {sorted(tok.special_tokens)}")
    print(f"pattern: {tok.pattern}")
    print_table("longest tokens", ["id", "bytes", "token"], [[i, len(tok.vocab[i]), repr(render_token(tok.vocab[i]))]
                                                           for i in longest])
    print_table("first merges", ["id", "left", "right", "token"],
                [[i, repr(render_token(tok.vocab[a])), repr(render_token(tok.vocab[b])),
                  repr(render_token(tok.vocab[i]))] for i, a, b in merges])
    if text is not None:
        colours = ["on dark_blue", "on dark_green", "on dark_red", "on purple4", "on dark_orange3"]
        shown = Text()
        for k, i in enumerate(ids):
            shown.append(render_token(tok.token_bytes(i)), style=colours[k % len(colours)])
        Console().print(shown)
        print(f"{len(ids)} tokens for {len(text)} characters: {' '.join(map(str, ids))}")


@bench_app.command("tokenizer")
def bench_tokenizer(quick: bool = typer.Option(False, help="10 MB instead of 100 MB for the large training run."),
                    json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Training speed against the recount reference and Hugging Face, and encoding throughput against tiktoken."""
    from qstar.cli.output import emit_json
    from qstar.tokenizer.bench import run_all
    result = run_all(quick=quick, log=lambda s: print(s, file=sys.stderr if json_out else sys.stdout, flush=True))
    if json_out:
        emit_json(result)
