"""Experiment behind docs/reasoning.md ("Second thoughts"): teach a policy to look at the numbers a step leaves
and take the step back when 24 can no longer be made from them, inside one greedy solution.

    .venv/bin/python docs/reasoning/second_thoughts.py OUT_DIR [--policy DIR] [--steps 1500] [--traces 2]
        [--lr 5e-4] [--temperature 1] [--verdicts 0]

Training traces (training and synthetic puzzles only): at every state of a solution, the legal steps in the
order the starting policy ranks them (its log-probability; traces after the first rank them with Gumbel noise
at --temperature), each tried in turn: one from which 24 is unreachable (the exact solver) is written with
' undo' after its result, the first one from which it is reachable stands; at most MAX_UNDOS per solution. The
policy learns the operations it tries, and after the rules' text the verdict (the newline or ' undo').
Then greedy decoding with ``Calculator(undo=True)``: solved, first step (as it stands) solvable, finished.
--verdicts K adds, per puzzle, K random legal first steps whose verdict alone is learned (the
step is context, not a target). One torch thread.
"""

import argparse
import json
import random
from pathlib import Path

import torch

from qstar.cli.reasoning import shipped_models
from qstar.reasoning.calculator import Calculator, action_segments
from qstar.reasoning.game24 import Game24
from qstar.reasoning.lm import TrainConfig, quiet_transformers
from qstar.reasoning.policy import LMPolicy
from qstar.reasoning.loop import second_thought_traces
from qstar.reasoning.task import UNDO

from search_ablation import greedy_diagnosis

SHIPPED = shipped_models("game24") / "policy"  # the models the package ships (v10; the docs' runs started from v7's)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--policy", default=str(SHIPPED))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--traces", type=int, default=2)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--verdicts", type=int, default=0,
                    help="per puzzle, this many random legal first steps whose verdict alone is learned")
    a = ap.parse_args()
    quiet_transformers()
    torch.set_num_threads(1)
    task = Game24()
    policy = LMPolicy.load(a.policy)
    puzzles = task.problems("train") + task.problems("synthetic")
    prompts, comps = second_thought_traces(task, Calculator(policy, task), puzzles, a.traces, a.temperature, 0)
    undos = sum(c.count(UNDO) for c in comps)
    print(f"{len(puzzles)} puzzles, {len(comps)} traces, {undos} steps taken back", flush=True)
    segs = [action_segments(c, undo=True) for c in comps]
    if a.verdicts:  # judge more states than the policy would try: the step is context, the verdict the target
        rng = random.Random(5)
        for p in puzzles:
            moves = list(task.moves(task.initial_state(p)))
            for line, nxt in rng.sample(moves, min(a.verdicts, len(moves))):
                prompts.append(task.prompt(p))
                segs.append([(line, False), (("" if task.state_solvable(nxt) else UNDO) + "\n", True)])
        print(f"{len(prompts) - len(comps)} verdict examples", flush=True)
    cfg = TrainConfig(epochs=a.steps * 64 / len(prompts), lr=a.lr, seed=0)
    stats = policy.finetune(prompts, segs, cfg)
    policy.save(Path(a.out) / "policy")
    print(json.dumps(stats), flush=True)
    for split in ("test", "train"):
        probs = task.problems(split)
        if split == "train":
            probs = random.Random(1).sample(probs, 100)
        d = greedy_diagnosis(task, probs, Calculator(policy, task, undo=True))
        print(split, json.dumps(d), flush=True)


if __name__ == "__main__":
    main()
