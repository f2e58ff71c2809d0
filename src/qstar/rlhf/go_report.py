"""The report of a ``qstar rlhf go`` run folder: numbers (summary.json), plots and summary.md.

Reads what ``go_experiment.run_go_experiment`` wrote; needs no model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from qstar.core.atomic import atomic_write_json, atomic_write_png, atomic_write_text, read_jsonl
from qstar.core.errors import QstarError
from qstar.games.go.rules import BLACK, WHITE
from qstar.rlhf.board_labelers import parse_board

NAMES = {BLACK: "black", WHITE: "white"}
RUNS = ("truth", "rlhf")  # the two sides of a run folder, each in its own subfolder (go_experiment writes them)


def is_go_run(run: Path) -> bool:
    return (run / "config.json").exists() and all((run / r).is_dir() for r in RUNS)


def _finals(run: Path) -> list[dict]:
    return [f for path in sorted(run.glob("finals_*.jsonl")) for f in read_jsonl(path)]


def loved_losers(finals: list[dict], k: int) -> list[dict]:
    """The ``k`` (board, colour) pairs the reward model scores most in favour of a colour that loses by the
    rules, most loved first; one entry per distinct board."""
    cands = []
    for f in finals:
        for colour in (BLACK, WHITE):
            if f["rules_winner"] == 3 - colour:
                rm = f["rm_margin"] if colour == BLACK else -f["rm_margin"]
                area = f["area_margin"] if colour == BLACK else -f["area_margin"]
                cands.append({"colour": NAMES[colour], "rm_margin": rm, "area_margin": area, "board": f["board"],
                              "source": f["source"], "iteration": f.get("iteration"), "moves": f["moves"]})
    cands.sort(key=lambda c: -c["rm_margin"])
    out, seen = [], set()
    for c in cands:
        if c["board"] not in seen:
            seen.add(c["board"])
            out.append(c)
        if len(out) == k:
            break
    return out


def _in_run_order(by_run: dict) -> dict:
    """truth first, then rlhf (the JSON files keep their keys sorted)."""
    return {r: by_run[r] for r in RUNS if r in by_run}


def analyse(run: Path) -> dict:
    if not is_go_run(run) or not (run / "match.json").exists():
        raise QstarError(f"{run} holds no finished `qstar rlhf go` run (no match.json)")
    cfg = json.loads((run / "config.json").read_text())
    s: dict = {"run": str(run), "config": cfg,
               "reward_model": json.loads((run / "reward_model.json").read_text()),
               "training": json.loads((run / "training.json").read_text()),
               "match": json.loads((run / "match.json").read_text()),
               "gnugo": _in_run_order(json.loads((run / "gnugo.json").read_text())),
               "timing": json.loads((run / "timing.json").read_text())}
    if (run / "match_init.json").exists():  # runs that started from a given network (--init)
        s["vs_init"] = _in_run_order(json.loads((run / "match_init.json").read_text()))
    s["iterations"] = {r: read_jsonl(run / r / "metrics.jsonl") for r in RUNS}
    finals = _finals(run)
    s["loved_losers"] = loved_losers(finals, cfg.get("loved", 6))
    s["match_by_colour"] = _by_colour([f for f in finals if f["source"] == "match"])
    s["judge_agreement_by_source"] = {}
    for src in sorted({f["source"] for f in finals}):
        rows = [f for f in finals if f["source"] == src and f["rules_winner"] in (BLACK, WHITE)]
        if rows:
            s["judge_agreement_by_source"][src] = {
                "boards": len(rows),
                "agreement": round(float(np.mean([(f["rm_margin"] > 0) == (f["rules_winner"] == BLACK) for f in rows])), 4)}
    return s


def _by_colour(rows: list[dict]) -> dict:
    """The match split by the truth-trained side's colour: games, its wins, mean length, Black's mean real margin."""
    out = {}
    for colour, black in (("black", True), ("white", False)):
        r = [f for f in rows if f["net_black"] == black]
        if r:
            mine = BLACK if black else WHITE
            out[colour] = {"games": len(r), "truth_wins": sum(f["rules_winner"] == mine for f in r),
                           "mean_moves": round(float(np.mean([f["moves"] for f in r])), 1),
                           "mean_black_margin": round(float(np.mean([f["area_margin"] for f in r])), 2),
                           "mean_stones": round(float(np.mean([f["board"].count("X") + f["board"].count("O") for f in r])), 1)}
    return out


def _board(ax, text: str, title: str) -> None:
    """Draw a board (as written by ``board_text``) on a matplotlib axis."""
    from matplotlib.patches import Circle
    b = parse_board(text)
    n = b.size
    ax.set_facecolor("#dcb35c")
    for i in range(n):
        ax.plot([0, n - 1], [i, i], color="k", lw=0.6, zorder=1)
        ax.plot([i, i], [0, n - 1], color="k", lw=0.6, zorder=1)
    for p, v in enumerate(b.cells):
        if v:
            r, c = divmod(p, n)
            ax.add_patch(Circle((c, n - 1 - r), 0.45, zorder=2, ec="k", fc="k" if v == BLACK else "w"))
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)


def plot(run: Path, s: dict) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    colors = {"truth": "tab:blue", "rlhf": "tab:orange"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for r, rows in s["iterations"].items():
        for ax, key in zip(axes, ("gold_vs_playouts", "proxy_vs_playouts", "judge_agrees_with_rules")):
            pts = [(m["iteration"], m[key]) for m in rows if key in m]
            if pts:
                ax.plot(*zip(*pts), "o-", color=colors[r], label=f"{r}-trained")
    titles = ("gold: score vs MCTS-playouts, real rules", "proxy: the same games judged by the reward model",
              "reward model agrees with the rules (same games)")
    for ax, t in zip(axes, titles):
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("AlphaZero iteration")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(atomic_write_png(run / "training.png", fig, dpi=110))
    plt.close(fig)

    finals = _finals(run)
    fig, ax = plt.subplots(figsize=(6, 5))
    for src, c in (("match", "tab:purple"), ("check_truth", "tab:blue"), ("check_rlhf", "tab:orange")):
        rows = [f for f in finals if f["source"] == src]
        if rows:
            ax.scatter([f["area_margin"] for f in rows], [f["rm_margin"] for f in rows], s=12, alpha=0.6, color=c, label=src)
    ax.axhline(0, color="k", lw=0.6)
    ax.axvline(0, color="k", lw=0.6)
    ax.set_xlabel("Black's real margin (area score − komi)")
    ax.set_ylabel("reward model: r(Black view) − r(White view)")
    ax.set_title("Final boards: the judge against the rules\n(top-left and bottom-right: the judge is wrong)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(atomic_write_png(run / "rm_vs_rules.png", fig, dpi=110))
    plt.close(fig)

    loved = s["loved_losers"]
    if loved:
        fig, axes = plt.subplots(1, len(loved), figsize=(2.6 * len(loved), 3.0), squeeze=False)
        for ax, e in zip(axes[0], loved):
            _board(ax, e["board"], f"{e['colour']}: RM {e['rm_margin']:+.1f}\nreal {e['area_margin']:+.1f} ({e['source']})")
        fig.suptitle("Final boards the reward model loves most for a colour that loses by the rules", fontsize=9)
        fig.tight_layout(rect=(0, 0, 1, 0.88))
        files.append(atomic_write_png(run / "loved_losers.png", fig, dpi=110))
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    bars = ([("truth vs rlhf", s["match"])] + [(f"{r} vs start", m) for r, m in s.get("vs_init", {}).items()]
            + [(f"{r} vs GNU Go", g) for r, g in s["gnugo"].items() if g and "score" in g])
    for i, (name, m) in enumerate(bars):
        lo, hi = m["score_ci95"]
        ax.bar(i, m["score"], color="tab:blue" if i == 0 else "tab:gray")
        ax.errorbar(i, m["score"], yerr=[[m["score"] - lo], [hi - m["score"]]], color="k", capsize=4)
        ax.text(i + 0.05, m["score"] / 2 + 0.02, f"{m['wins']}-{m['draws']}-{m['losses']}", ha="left", fontsize=8)
    ax.axhline(0.5, color="k", ls=":", lw=0.8)
    ax.set_xticks(range(len(bars)))
    ax.set_xticklabels([b[0] for b in bars], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score of the first named (95% CI)")
    ax.set_title("Matches under the real rules", fontsize=9)
    fig.tight_layout()
    files.append(atomic_write_png(run / "matches.png", fig, dpi=110))
    plt.close(fig)
    return files


def headline(s: dict) -> dict:
    rm, m = s["reward_model"], s["match"]
    tr = s["training"]
    return {"run": s["run"], "size": s["config"]["size"],
            "rm_heldout_acc": {k: rm.get(f"heldout_{k}_acc") for k in ("vibe", "score", "outcome")},
            "match_truth_vs_rlhf": {k: m[k] for k in ("wins", "draws", "losses", "games", "score", "score_ci95", "elo", "elo_ci95")},
            "gnugo": {r: ({k: g[k] for k in ("wins", "games", "score", "score_ci95")} if g and "score" in g else g)
                      for r, g in s["gnugo"].items()},
            "vs_init": {r: {k: v[k] for k in ("wins", "draws", "losses", "games", "score", "score_ci95")}
                        for r, v in s.get("vs_init", {}).items()},
            "train_seconds": {r: {"wall": tr[r]["wall_seconds"], "cpu": tr[r]["cpu_seconds"]} for r in tr},
            "total": s["timing"].get("gnugo")}


def write_report(run: Path) -> dict:
    s = analyse(run)
    plot(run, s)
    atomic_write_json(run / "summary.json", s)
    atomic_write_text(run / "summary.md", markdown(s))
    return s


def _pct(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def markdown(s: dict) -> str:
    c, rm, m = s["config"], s["reward_model"], s["match"]
    n = c["size"]
    t = s["timing"]
    rule = "" if c.get("pass_rule", "any") == "any" else ", passes only when settled"
    lines = [f"# AlphaGo trained with RLHF: {n}×{n} Go, komi {c['komi']:g}{rule}", "",
             f"Run folder `{s['run']}`. Plots: `training.png`, `rm_vs_rules.png`, `loved_losers.png`, `matches.png`. "
             f"Whole run: {t['gnugo']['wall_seconds']:.0f} s wall, {t['gnugo']['cpu_seconds']:.0f} s CPU (this process and "
             f"its finished child processes: {c.get('workers', 1)} worker processes, the GTP engines and GNU Go).", "",
             "## Raters and reward model", "",
             f"{c['pairs']} pairs of boards from random games (cut at a random move, or at the end with probability "
             f"{c['final_share']}), each compared for a random colour. Vibe rater: stones ×{c['vibe']['stones']}, "
             f"empty points in regions that look enclosed ×{c['vibe']['territory']}, prisoners ×{c['vibe']['captures']}, "
             f"Bradley–Terry noise T = {c['vibe']['temperature']} points; no komi.", "",
             "| held out | pairs | reward model accuracy | vibe rater's agreement |", "|---|---|---|---|",
             f"| vibe labels | {rm['heldout_pairs']} | {_pct(rm['heldout_vibe_acc'])} | – |"]
    for k, what in (("score", "area score with komi of the board"), ("outcome", "result of the board's game")):
        lines.append(f"| truth: {what} (pairs it decides) | {rm[f'heldout_{k}_pairs']} | {_pct(rm[f'heldout_{k}_acc'])} "
                     f"| {_pct(rm[f'vibe_rater_{k}_agreement'])} |")
    lines += ["", f"As a judge (Black wins when r(Black view) > r(White view)) it names the rules' winner of "
              f"{_pct(rm['judge_agrees_with_rules_on_heldout_boards'])} of the held-out random boards.", "",
              "## Two AlphaZero runs, one difference: who decides a finished game", "",
              f"Same loop (`qstar.learn.loop.run_loop`), network ({c['blocks']} blocks × {c['channels']} channels), "
              f"{c['iterations']} iterations × {c['games']} self-play games, {c['sims']} simulations per move, "
              f"{c['train_steps']} training steps per iteration, seed {c['seed']}; both start from "
              + (f"the network `{c['init']}` (RLHF as fine-tuning of a trained policy)." if c.get("init")
                 else "a random network."), "",
              "| run | wall s | CPU s | finished positions judged | last iteration: gold vs playouts | proxy vs playouts | judge agrees |",
              "|---|---|---|---|---|---|---|"]
    for r, tr in s["training"].items():
        last = s["iterations"][r][-1] if s["iterations"][r] else {}
        lines.append(f"| {r} | {tr['wall_seconds']:.0f} | {tr['cpu_seconds']:.0f} | {tr['finished_positions_judged']} "
                     f"| {_pct(last.get('gold_vs_playouts'))} | {_pct(last.get('proxy_vs_playouts'))} "
                     f"| {_pct(last.get('judge_agrees_with_rules'))} |")
    lines += ["", f"Every {c['check_every']} iterations and after the last ({c['eval_games']} games against MCTS with 32 random-playout simulations, "
              "each final board scored by the rules and by the reward model):", "",
              "| iteration | truth: gold | truth: proxy | rlhf: gold | rlhf: proxy | rlhf: mean self-play game length |", "|---|---|---|---|---|---|"]
    tr_it, rl_it = s["iterations"]["truth"], s["iterations"]["rlhf"]
    for a, b in zip(tr_it, rl_it):
        if "gold_vs_playouts" not in a:
            continue
        lines.append(f"| {a['iteration']} | {_pct(a.get('gold_vs_playouts'))} | {_pct(a.get('proxy_vs_playouts'))} "
                     f"| {_pct(b.get('gold_vs_playouts'))} | {_pct(b.get('proxy_vs_playouts'))} | {b['mean_game_length']:.1f} |")
    lo, hi = m["score_ci95"]
    elo_lo, elo_hi = m["elo_ci95"]
    lines += ["", "## Evaluation under the real rules", "",
              f"**Truth-trained vs RLHF-trained, {m['games']} games** (colours alternate, 2 random opening plies, "
              f"MCTS {m['sims']} simulations per move for both): truth-trained **{m['wins']} wins, {m['draws']} draws, "
              f"{m['losses']} losses**, score **{m['score']:.3f}** (95% CI [{lo:.3f}, {hi:.3f}]), "
              f"Elo {m['elo']:+.0f} [{elo_lo:+.0f}, {elo_hi:+.0f}]. Wins as Black {m['truth_wins_as_black']}, "
              f"as White {m['truth_wins_as_white']}.", "",
              f"Had the reward model judged these games, the truth-trained side would have scored "
              f"{m['judge_would_score_for_truth']['score']:.3f}; it agreed with the rules on "
              f"{m['judge_agrees_with_rules']:.3f} of them.", "",
              "| truth-trained plays | games | its wins | mean moves | Black's mean real margin | stones on the final board |",
              "|---|---|---|---|---|---|"]
    for colour, v in s["match_by_colour"].items():
        lines.append(f"| {colour} | {v['games']} | {v['truth_wins']} | {v['mean_moves']} | {v['mean_black_margin']:+.2f} "
                     f"| {v['mean_stones']} |")
    lines += [""]
    for r, v in s.get("vs_init", {}).items():
        lo, hi = v["score_ci95"]
        lines.append(f"- {r}-trained vs the network both started from ({v['games']} games, same openings for both sides): "
                     f"{v['wins']} wins, {v['draws']} draws, {v['losses']} losses, score {v['score']:.3f} [{lo:.3f}, {hi:.3f}]")
    for r, g in s["gnugo"].items():
        if g and "score" in g:
            glo, ghi = g["score_ci95"]
            lines.append(f"- {r}-trained vs {g['opponent']} ({g['games']} games, qstar {g['sims']} simulations per move, "
                         f"scored by GNU Go's `final_score`): {g['wins']} wins, {g['draws']} draws, {g['losses']} losses, "
                         f"score {g['score']:.3f} [{glo:.3f}, {ghi:.3f}]; forfeits: {len(g['forfeits'])}")
        elif g:
            lines.append(f"- {r}-trained vs GNU Go: {g.get('skipped')}")
    lines += ["", "Judge vs rules on every scored final board: "
              + ", ".join(f"{k} {v['agreement']:.3f} of {v['boards']}" for k, v in s["judge_agreement_by_source"].items()), "",
              "## Final boards the reward model loves most that actually lose", "",
              "RM margin: r(colour's view) − r(opponent's view); real: the colour's area margin with komi. "
              "X is Black, O is White. Drawn in `loved_losers.png`.", ""]
    for e in s["loved_losers"]:
        where = e["source"] + (f", iteration {e['iteration']}" if e.get("iteration") else "")
        lines += [f"**{e['colour']}**, RM margin {e['rm_margin']:+.2f}, real margin {e['area_margin']:+.1f} "
                  f"({where}, {e['moves']} moves):", "", "```", e["board"], "```", ""]
    return "\n".join(lines) + "\n"
