"""Experiment behind docs/reasoning.md ("What limits greedy"): train a first policy (round 0 only) on solver
traces under one setting and measure greedy decoding on the test split and on 100 training puzzles.

    .venv/bin/python docs/reasoning/policy_ablation.py OUT_DIR [--steps 2750] [--layers 4] [--width 128]
        [--traces 200] [--synthetic] [--synthetic-max 20]   # --synthetic: the synthetic puzzles too, same
                                                             # traces per puzzle, numbers up to --synthetic-max

The variants of the docs: traces=200 (every solver solution, at most 200), steps 2750, 4 x 128 (E1);
6 x 192, steps 1832 (E2); traces 6 with --synthetic, steps 2750 (E3). One torch thread. Prints the training
stats and, per split, greedy solved / first step leaves 24 reachable / finished.
"""

import argparse
import json
import random
from pathlib import Path

import torch

from qstar.reasoning.calculator import Calculator
from qstar.reasoning import game24
from qstar.reasoning.game24 import Game24
from qstar.reasoning.lm import TrainConfig, quiet_transformers, train_step_tokenizer
from qstar.reasoning.loop import solver_traces, targets
from qstar.reasoning.policy import LMPolicy, PolicyConfig

from search_ablation import greedy_diagnosis


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=2750)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--traces", type=int, default=200)
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--synthetic-max", type=int, default=game24.SYNTHETIC_MAX)
    a = ap.parse_args()
    quiet_transformers()
    torch.set_num_threads(1)
    game24.SYNTHETIC_MAX = a.synthetic_max  # read when the synthetic puzzles are first made
    task = Game24()
    puzzles = task.problems("train") + (task.problems("synthetic") if a.synthetic else [])
    prompts, comps = solver_traces(task, puzzles, a.traces, 0)
    tok = train_step_tokenizer([p + c for p, c in zip(prompts, comps)][:4000], 320)
    policy = LMPolicy.new(tok, PolicyConfig(n_layer=a.layers, n_embd=a.width), seed=0)
    print(f"{len(puzzles)} puzzles, {len(prompts)} traces", flush=True)
    stats = policy.finetune(prompts, targets(comps, True),
                            TrainConfig(epochs=a.steps * 64 / len(prompts), lr=3e-3, seed=0))
    policy.save(Path(a.out) / "policy")
    print(json.dumps({"traces": len(prompts), "parameters": policy.num_parameters, **stats}))
    acting = Calculator(policy, task)
    for split in ("test", "train"):
        probs = task.problems(split)
        if split == "train":
            probs = random.Random(1).sample(probs, 100)
        print(split, json.dumps(greedy_diagnosis(task, probs, acting)), flush=True)


if __name__ == "__main__":
    main()
