"""Experiment behind docs/reasoning.md: what the policy and the PRM each bring to MCTS over every legal step,
and where greedy decoding goes wrong.

    .venv/bin/python docs/reasoning/search_ablation.py [SIMS=64,200] [MODELS_DIR]

On the test split (ranks 901-1000): (1) greedy decoding, how often its first step leaves a position from which
24 can still be reached (exact solver), and how often it finishes from there; (2) for each SIMS, MCTS over every
legal step with {policy priors, uniform priors} x {PRM, no value model}: puzzles solved, by the verifier.
Uses the shipped models unless MODELS_DIR is given.
"""

import sys
from pathlib import Path

from qstar.cli.reasoning import _load_models
from qstar.reasoning.game24 import Game24
from qstar.reasoning.mcts_steps import mcts
from qstar.reasoning.strategies import greedy


def solved(task, problems, results) -> int:
    return sum(bool(r.answer) and task.score(p, r.answer).ok for p, r in zip(problems, results))


def greedy_diagnosis(task, problems, policy) -> dict:
    """Greedy decoding: puzzles solved, how often its first step leaves the target reachable (exact solver),
    and how many of those it finished."""
    res = greedy(task, problems, policy, None)
    first_ok = finished = 0
    for p, r in zip(problems, res):
        nxt = task.apply(task.initial_state(p), r.steps[0])[0] if r.steps else None
        if nxt is not None and task.state_solvable(nxt):
            first_ok += 1
            finished += bool(r.answer) and task.score(p, r.answer).ok
    return {"solved": solved(task, problems, res), "first_step_solvable": first_ok, "finished": finished}


def save_and_diagnose(task, policy, out: str, stats: dict) -> None:
    """Save ``policy`` under OUT/policy, print ``stats`` as JSON, then greedy_diagnosis on the test split and on
    100 training puzzles (a fixed sample), one line each (the report of policy_ablation.py and first_step_loss.py)."""
    import json
    import random

    from qstar.reasoning.calculator import Calculator
    policy.save(Path(out) / "policy")
    print(json.dumps(stats), flush=True)
    acting = Calculator(policy, task)
    for split in ("test", "train"):
        probs = task.problems(split)
        if split == "train":
            probs = random.Random(1).sample(probs, 100)
        print(split, json.dumps(greedy_diagnosis(task, probs, acting)), flush=True)


def main() -> None:
    sims = [int(x) for x in (sys.argv[1] if len(sys.argv) > 1 else "64,200").split(",")]
    task = Game24()
    problems = task.problems("test")
    policy, values = _load_models("game24", Path(sys.argv[2]) if len(sys.argv) > 2 else None)

    g = greedy_diagnosis(task, problems, policy)
    print(f"greedy: solved {g['solved']}/{len(problems)}; first step leaves 24 reachable for "
          f"{g['first_step_solvable']}; finished {g['finished']} of those")

    for n in sims:
        for priors in ("policy", "uniform"):
            for value_name in ("prm", "none"):
                value = values["prm"] if value_name == "prm" else None
                res = mcts(task, problems, policy, value, simulations=n, proposals=0,
                           uniform_priors=priors == "uniform")
                print(f"MCTS {n} sims, every legal step, {priors} priors, value {value_name}: "
                      f"{solved(task, problems, res)}/{len(problems)}", flush=True)


if __name__ == "__main__":
    main()
