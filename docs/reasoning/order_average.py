"""Does the Game-of-24 policy judge first steps better when its view is averaged over the orders of the numbers?

    .venv/bin/python docs/reasoning/order_average.py [MODELS_DIR]

Go's engine gains from averaging its network over the board's 8 symmetries (docs/go.md). A puzzle's symmetry is
the order its four numbers are written in. For every test puzzle this scores each legal first step (the whole
line, by the policy's log-probability) after the prompt in each distinct order of the numbers, and counts for
how many puzzles the top step keeps 24 reachable (exact solver): ranked by the puzzle's own order, by the mean
over orders of the steps' probabilities (each order's normalised over the legal steps), and by the mean of
their log-probabilities. Uses the shipped models unless MODELS_DIR is given. One torch thread.
"""

import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

from qstar.cli.reasoning import _load_models
from qstar.reasoning.game24 import Game24
from qstar.reasoning.task import Problem


def main() -> None:
    torch.set_num_threads(1)
    game = Game24()
    policy, _ = _load_models("game24", Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    test = game.problems("test")
    t0 = time.process_time()
    own = mean_prob = mean_logprob = 0
    for p in test:
        moves = list(game.moves(game.initial_state(p)))
        lines = [line + "\n" for line, _ in moves]  # the lines do not depend on the order: "(left: ...)" is sorted
        solvable = np.array([game.state_solvable(s) for _, s in moves])
        orders = sorted(set(itertools.permutations(p.numbers)))
        prompts = [game.prompt(Problem(q, p.target, p.id)) for q in orders for _ in lines]
        lp = np.array(policy.logprob(prompts, lines * len(orders))).reshape(len(orders), len(lines))
        probs = np.exp(lp - lp.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        own += solvable[lp[orders.index(tuple(p.numbers))].argmax()]
        mean_prob += solvable[probs.mean(0).argmax()]
        mean_logprob += solvable[lp.mean(0).argmax()]
    print(f"top first step solvable, of {len(test)} test puzzles: the puzzle's own order {own}; mean probability "
          f"over orders {mean_prob}; mean log-probability {mean_logprob} (CPU {time.process_time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
