"""Experiment behind docs/reasoning.md ("What limits greedy"): fine-tune a first policy with a loss on the
first step's whole set of legal alternatives — raise the total probability of the steps that keep 24 reachable
(the exact solver says which), -log sum_{solvable s} p(s) — mixed with the usual loss on solver traces, then
measure greedy as policy_ablation.py does.

    .venv/bin/python docs/reasoning/first_step_loss.py POLICY_DIR OUT_DIR [--steps 600] [--puzzles 16]
        [--traces 32] [--lr 5e-4] [--weight 1] [--depth 1] [--per-state 1] [--synthetic-max 20]

POLICY_DIR is a policy saved by policy_ablation.py (E3's recipe). One torch thread. The loss is
``LMPolicy.finetune``'s ``choices`` (the loop's round 0 and rounds use it too); the figures in docs/reasoning.md
were measured with this script's first version, which drew the traces at random each step and went through the
puzzles in epochs (the finetune goes through the traces in epochs and draws the puzzles at random).
"""

import argparse

import torch

from qstar.reasoning import game24
from qstar.reasoning.game24 import Game24
from qstar.reasoning.lm import TrainConfig, quiet_transformers
from qstar.reasoning.loop import first_step_choices, solver_traces, targets
from qstar.reasoning.policy import LMPolicy

from search_ablation import save_and_diagnose


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("policy")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--puzzles", type=int, default=16)
    ap.add_argument("--traces", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--weight", type=float, default=1.0, help="weight of the first-step loss beside the traces' loss")
    ap.add_argument("--depth", type=int, default=1, help="steps deep the choices go (1: the first step only)")
    ap.add_argument("--per-state", type=int, default=1, help="solvable steps of each choice whose next choice is added")
    ap.add_argument("--synthetic-max", type=int, default=game24.SYNTHETIC_MAX,
                    help="the synthetic puzzles' numbers go up to this")
    a = ap.parse_args()
    quiet_transformers()
    torch.set_num_threads(1)
    game24.SYNTHETIC_MAX = a.synthetic_max  # read when the synthetic puzzles are first made
    task = Game24()
    policy = LMPolicy.load(a.policy)
    puzzles = task.problems("train") + task.problems("synthetic")
    choices = first_step_choices(task, puzzles, calculator=True, depth=a.depth, per_state=a.per_state)
    prompts, comps = solver_traces(task, puzzles, 6, 0)
    print(f"{len(puzzles)} puzzles, {len(choices)} choices; {sum(len(c[1]) for c in choices)} legal steps, "
          f"{sum(good for c in choices for _, good in c[1])} solvable", flush=True)
    epochs = a.steps / -(-len(prompts) // a.traces)  # a.steps optimizer steps of a.traces traces and a.puzzles puzzles
    cfg = TrainConfig(epochs=epochs, batch_size=a.traces, lr=a.lr, seed=0)
    stats = policy.finetune(prompts, targets(comps, True), cfg,
                            choices=choices, choices_per_step=a.puzzles, choices_weight=a.weight)
    save_and_diagnose(task, policy, a.out, stats)


if __name__ == "__main__":
    main()
