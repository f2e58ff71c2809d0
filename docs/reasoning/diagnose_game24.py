"""Diagnostics behind docs/reasoning.md: what limits search on the Game-of-24 test split.

    .venv/bin/python docs/reasoning/diagnose_game24.py [MODELS_DIR]

Prints (1) proposal coverage: for K sampled first steps per test puzzle, how many distinct legal
steps come back and for how many puzzles at least one keeps 24 reachable (exact solver); (2) the
PRM's ranking of every legal first step of every test puzzle: share of legal first steps that are
solvable, the area under the ROC curve (PRM score vs exact solvability), and for how many puzzles
the PRM's top-1 / top-3 step is solvable; (3) coverage of the test split's first-step results by the
training puzzles': how many of the distinct three-number states a legal first step of a test puzzle leaves
(and how many of the solvable ones) are also left by a legal first step of a training or synthetic puzzle.
Uses the shipped models unless MODELS_DIR is given.
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch

from qstar.cli.reasoning import _load_models
from qstar.reasoning.game24 import Game24

G = Game24()


def first_step_ranking(value, problems) -> dict:
    """How a value model ranks every legal first step of ``problems`` against exact solvability: the number
    of steps, the solvable share, the area under the ROC curve (ties count half), and for how many problems
    its top-1 / top-3 step is solvable."""
    rows, truth, sizes = [], [], []
    for p in problems:
        moves = list(G.moves(G.initial_state(p)))
        sizes.append(len(moves))
        rows += [(p, s) for _, s in moves]
        truth += [G.state_solvable(s) for _, s in moves]
    t = np.array(truth)
    v = np.array([s[-1] for s in value.score([G.prompt(p) for p, _ in rows], [s.steps for _, s in rows])])
    auc = float((v[t][:, None] > v[~t][None, :]).mean() + 0.5 * (v[t][:, None] == v[~t][None, :]).mean())
    top1 = top3 = i = 0
    for n in sizes:
        order = np.argsort(-v[i: i + n])
        top1 += bool(t[i: i + n][order[0]])
        top3 += bool(t[i: i + n][order[:3]].any())
        i += n
    return {"steps": len(rows), "solvable": float(t.mean()), "auc": round(auc, 3), "top1": top1, "top3": top3}


def first_step_results(problems) -> dict:
    """Each distinct state (sorted numbers left) a legal first step of ``problems`` leaves -> is it solvable."""
    return {tuple(sorted(x.value for x in s.items)): G.state_solvable(s)
            for p in problems for _, s in G.moves(G.initial_state(p))}


def main() -> None:
    torch.set_num_threads(1)
    policy, values = _load_models("game24", Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    test = G.problems("test")
    t0 = time.process_time()
    for k in (8, 32):
        outs = policy.generate([G.prompt(p) for p in test], n=k, temperature=1.0, stop="line", seed=0)
        covered, distinct = 0, 0
        for p, cs in zip(test, outs):
            s0 = G.initial_state(p)
            kids = {}
            for c in cs:
                nxt, _ = G.apply(s0, c.text)
                if nxt is not None:
                    kids[nxt.key] = nxt
            distinct += len(kids)
            covered += any(G.state_solvable(s) for s in kids.values())
        print(f"{k} samples: {distinct / len(test):.1f} distinct legal first steps per puzzle; "
              f"a solvable one among them for {covered}/{len(test)} puzzles")
    r = first_step_ranking(values["prm"], test)
    print(f"{r['steps']} legal first steps, {r['solvable']:.1%} solvable; PRM AUC {r['auc']:.3f}; "
          f"PRM top-1 solvable for {r['top1']}/{len(test)} puzzles, top-3 for {r['top3']}/{len(test)}")
    seen = first_step_results(G.problems("train") + G.problems("synthetic"))
    test_states = first_step_results(test)
    solvable = [k for k, ok in test_states.items() if ok]
    print(f"{len(test_states)} distinct states after a test puzzle's first step, {len(solvable)} solvable; "
          f"{sum(k in seen for k in test_states)} and {sum(k in seen for k in solvable)} of them are also left by "
          f"a first step of the {len(seen)}-state training and synthetic pool")
    print(f"CPU {time.process_time() - t0:.0f} s")


if __name__ == "__main__":
    main()
