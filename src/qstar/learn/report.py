"""Plots (PNG) and a Markdown summary for a run folder, rebuilt from metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from qstar.core.atomic import atomic_write_png, atomic_write_text, read_jsonl


def _plot(path: Path, title: str, xs, series: dict[str, list], ylabel: str, errors: dict | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    for name, ys in series.items():
        pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
        if not pts:
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        if errors and name in errors:
            lo_hi = [e for e, y in zip(errors[name], ys) if y is not None]
            ax.fill_between([p[0] for p in pts], [e[0] for e in lo_hi], [e[1] for e in lo_hi], alpha=0.2)
    ax.set_title(title)
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write_png(path, fig)
    plt.close(fig)


def _metric_table(m: dict) -> list[str]:
    """A metrics line as Markdown table rows: matches as score and Elo, floats to 4 significant digits."""
    lines = ["| metric | value |", "|---|---|"]
    for k, v in m.items():
        if isinstance(v, dict):
            v = f"score {v['score']:.3f} (+{v['wins']} ={v['draws']} -{v['losses']}), Elo {v['elo']:+.0f} {v['elo_ci95']}"
        elif isinstance(v, float):
            v = f"{v:.4g}"
        lines.append(f"| {k} | {v} |")
    return lines


def write_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    rows = read_jsonl(run_dir / "metrics.jsonl")
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    if not rows:
        return atomic_write_text(run_dir / "summary.md", "# Run summary\n\nNo iteration finished yet.\n")
    xs = [r["iteration"] for r in rows]
    made = []
    _plot(plots / "losses.png", "training losses", xs,
          {k: [r.get(k) for r in rows] for k in ("loss", "policy_loss", "value_loss")}, "loss")
    made.append("losses.png")
    if any("elo" in r for r in rows):
        # Elo relative to the random network of iteration 0, chained through matches against the previous net
        elo, lo_hi, acc = [], [], 0.0
        for r in rows:
            if "vs_previous" in r:
                d = r["vs_previous"]
                lo_hi.append((acc + d["elo_ci95"][0], acc + d["elo_ci95"][1]))
                acc = r["elo"]
            else:
                lo_hi.append((acc, acc))
            elo.append(r.get("elo"))
        _plot(plots / "elo.png", "Elo over iterations (vs iteration 0)", xs, {"Elo": elo}, "Elo", {"Elo": lo_hi})
        made.append("elo.png")
    base = sorted({k for r in rows for k in r if k.startswith("vs_") and k != "vs_previous"})
    if base:
        _plot(plots / "baselines.png", "score against fixed baselines", xs,
              {k[3:]: [r.get(k, {}).get("score") for r in rows] for k in base}, "score (win=1, draw=0.5)")
        made.append("baselines.png")
    gt = sorted({k for r in rows for k in r if k.startswith(("mistake", "losses_vs", "perfect"))})
    if gt:
        _plot(plots / "ground_truth.png", "against the ground truth", xs, {k: [r.get(k) for r in rows] for k in gt},
              "mistake rate or losses (lower is better)")
        made.append("ground_truth.png")
    cfg = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
    last = rows[-1]
    lines = [f"# Run summary: {cfg.get('game', '?')}", "",
             f"- iterations finished: {last['iteration']}",
             f"- self-play games: {sum(r['games'] for r in rows)}, positions: {sum(r['positions'] for r in rows)}",
             f"- wall time: {sum(r['seconds_selfplay'] + r['seconds_train'] + r['seconds_eval'] for r in rows):.0f} s "
             f"(self-play {sum(r['seconds_selfplay'] for r in rows):.0f} s)",
             "- latest network: `latest.safetensors`", "", "## Last iteration", "", *_metric_table(last)]
    if (run_dir / "final.json").exists():
        final = json.loads((run_dir / "final.json").read_text())
        lines += ["", f"## Final network: fresh, {final['steps']} steps on the last buffer (`final.safetensors`, "
                  "now `latest.safetensors`)", "", *_metric_table(final)]
    lines += ["", "## Plots", ""] + [f"![{m}](plots/{m})" for m in made]
    lines += ["", "## Config", "", "```json", json.dumps(cfg, indent=2), "```", ""]
    return atomic_write_text(run_dir / "summary.md", "\n".join(lines))
