"""Experiment behind docs/reasoning.md ("v6: rounds that bring new puzzles"): the improvement loop with the
synthetic puzzles searched but never given solver traces, so that every synthetic solution the policy
learns from was found by its own search or samples and accepted by the verifier; each round fine-tunes on
every verified solution kept so far (``accumulate``).

    .venv/bin/python docs/reasoning/rounds_without_traces.py RUN_DIR [--resume]
"""

import sys

from qstar.reasoning.game24 import Game24
from qstar.reasoning.loop import LoopConfig, run_loop

if __name__ == "__main__":
    cfg = LoopConfig(rounds=3, threads=2, traces_per_problem=200, extra_traces_per_problem=0, sft_epochs=12.0,
                     accumulate=True, replay=1.0, finetune_epochs=6.0)
    run_loop(Game24(), sys.argv[1], cfg, resume="--resume" in sys.argv[2:], log=lambda s: print(s, flush=True))
