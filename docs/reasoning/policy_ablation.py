"""Experiment behind docs/reasoning.md ("What limits greedy"): train a first policy (round 0 only) on solver
traces under one setting and measure greedy decoding on the test split and on 100 training puzzles.

    .venv/bin/python docs/reasoning/policy_ablation.py OUT_DIR [--steps 2750] [--layers 4] [--width 128]
        [--traces 200] [--synthetic] [--synthetic-max 20] [--lr 3e-3] [--seed 0]
        [--other-targets N] [--target-range 12-36] [--shuffle-numbers]

--synthetic adds the synthetic puzzles (same traces per puzzle, numbers up to --synthetic-max); --other-targets
adds N puzzles of four numbers from 1 to 13 with a target other than 24 in --target-range (never a test puzzle:
their target differs). The variants of the docs: traces=200 (every solver solution, at most 200), steps 2750,
4 x 128 (E1); 6 x 192, steps 1832 (E2); traces 6 with --synthetic, steps 2750 (E3); E5-E10 as the table in
docs/reasoning.md lists them. One torch thread. Prints the training stats and, per split, greedy solved / first
step leaves 24 reachable / finished.
"""

import argparse
import itertools
import random

import torch

from qstar.reasoning import game24
from qstar.reasoning.game24 import Game24
from qstar.reasoning.lm import TrainConfig, quiet_transformers, train_step_tokenizer
from qstar.reasoning.loop import solver_traces, targets
from qstar.reasoning.policy import LMPolicy, PolicyConfig
from qstar.reasoning.task import Problem

from search_ablation import save_and_diagnose


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=2750)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--traces", type=int, default=200)
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--synthetic-max", type=int, default=game24.SYNTHETIC_MAX)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--other-targets", type=int, default=0,
                    help="add this many puzzles of four numbers 1..13 with a target other than 24")
    ap.add_argument("--target-range", default="12-36")
    ap.add_argument("--shuffle-numbers", action="store_true",
                    help="each trace's prompt lists the numbers in random order")
    ap.add_argument("--seed", type=int, default=0, help="the network's initialisation and batch order")
    a = ap.parse_args()
    quiet_transformers()
    torch.set_num_threads(1)
    game24.SYNTHETIC_MAX = a.synthetic_max  # read when the synthetic puzzles are first made
    task = Game24()
    puzzles = task.problems("train") + (task.problems("synthetic") if a.synthetic else [])
    if a.other_targets:
        lo, hi = (int(x) for x in a.target_range.split("-"))
        others = [Problem(c, t) for c in itertools.combinations_with_replacement(range(1, 14), 4)
                  for t in range(lo, hi + 1) if t != 24 and task.solvable(c, t)]
        puzzles += random.Random(2).sample(others, min(a.other_targets, len(others)))
        print(f"{len(others)} puzzles with other targets, {min(a.other_targets, len(others))} used", flush=True)
    prompts, comps = solver_traces(task, puzzles, a.traces, 0)
    if a.shuffle_numbers:
        r = random.Random(3)
        prompts = [" ".join(r.sample(h.split(), 4)) + " -> " + t for h, _, t in (p.partition(" -> ") for p in prompts)]
    tok = train_step_tokenizer([p + c for p, c in zip(prompts, comps)][:4000], 320)
    policy = LMPolicy.new(tok, PolicyConfig(n_layer=a.layers, n_embd=a.width), seed=a.seed)
    print(f"{len(puzzles)} puzzles, {len(prompts)} traces", flush=True)
    stats = policy.finetune(prompts, targets(comps, True),
                            TrainConfig(epochs=a.steps * 64 / len(prompts), lr=a.lr, seed=a.seed))
    save_and_diagnose(task, policy, a.out, {"traces": len(prompts), "parameters": policy.num_parameters, **stats})


if __name__ == "__main__":
    main()
