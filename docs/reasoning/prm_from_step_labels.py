"""Experiment behind docs/reasoning.md: does a PRM trained on step_labels rank first steps better?

    .venv/bin/python docs/reasoning/prm_from_step_labels.py [PUZZLES=200]

Labels every legal first step of PUZZLES random training puzzles with rollouts of the shipped policy
(``step_labels``, 4 rollouts), reports the labels' agreement with exact solvability, trains a fresh
PRM (3 layers, width 96, 6 epochs) on them, and prints for the test puzzles' legal first steps: for
how many puzzles the top-1 / top-3 step is solvable, and the area under the ROC curve — for the
shipped PRM and the new one.
"""

import random
import sys
import time

import torch
from diagnose_game24 import first_step_ranking  # this folder's script: the same ranking of first steps

from qstar.cli.reasoning import _load_models
from qstar.reasoning.game24 import Game24
from qstar.reasoning.lm import TrainConfig
from qstar.reasoning.reward import ValueConfig, ValueLM, label_agreement, step_labels

torch.set_num_threads(1)
G = Game24()
policy, values = _load_models("game24", None)
train, test = G.problems("train"), G.problems("test")
puzzles = random.Random(1).sample(train, int(sys.argv[1]) if len(sys.argv) > 1 else 200)
t0 = time.process_time()
data = step_labels(G, puzzles, policy, rollouts=4, seed=0)
print(f"{len(data)} records, labelling CPU {time.process_time() - t0:.0f} s, agreement {label_agreement(data)}")


def ranking(vm) -> tuple[int, int, float]:
    r = first_step_ranking(vm, test)
    return r["top1"], r["top3"], r["auc"]


print("shipped PRM: top-1, top-3, AUC", ranking(values["prm"]))
vm = ValueLM.new(values["prm"].tokenizer, "prm", ValueConfig(n_layer=3, n_embd=96), 0)
stats = vm.fit(G, data, TrainConfig(epochs=6, lr=1e-3, seed=0))
print("PRM on step labels:", stats, "top-1, top-3, AUC", ranking(vm))
