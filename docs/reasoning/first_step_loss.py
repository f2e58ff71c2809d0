"""Experiment behind docs/reasoning.md ("What limits greedy"): fine-tune a first policy with a loss on the
first step's whole set of legal alternatives — raise the total probability of the steps that keep 24 reachable
(the exact solver says which), -log sum_{solvable s} p(s) — mixed with the usual loss on solver traces, then
measure greedy as policy_ablation.py does.

    .venv/bin/python docs/reasoning/first_step_loss.py POLICY_DIR OUT_DIR [--steps 600] [--puzzles 16]
        [--traces 32] [--lr 5e-4]

POLICY_DIR is a policy saved by policy_ablation.py (E3's recipe). One torch thread.
"""

import argparse
import random

import torch

from qstar.reasoning.game24 import Game24
from qstar.reasoning.lm import TrainConfig, encode_pairs, learned_logprobs, quiet_transformers, train_loop
from qstar.reasoning.loop import solver_traces, targets
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
    a = ap.parse_args()
    quiet_transformers()
    torch.set_num_threads(1)
    task = Game24()
    policy = LMPolicy.load(a.policy)
    tok, model = policy.tokenizer, policy.model
    pad = tok.pad_token_id
    puzzles = task.problems("train") + task.problems("synthetic")
    firsts = []  # per puzzle: (encoded heads of every legal first step, solvable mask)
    for p in puzzles:
        heads, ok = [], []
        for line, nxt in task.moves(task.initial_state(p)):
            heads.append(line.partition(" =")[0] + " =")
            ok.append(task.state_solvable(nxt))
        if any(ok):
            data = encode_pairs(tok, [task.prompt(p)] * len(heads), [[(h, True)] for h in heads], add_eos=False)
            firsts.append((data, torch.tensor(ok)))
    prompts, comps = solver_traces(task, puzzles, 6, 0)
    sft = encode_pairs(tok, prompts, targets(comps, True))
    rng = random.Random(0)
    print(f"{len(firsts)} puzzles with a solvable first step; {sum(len(f[1]) for f in firsts)} legal first steps, "
          f"{int(sum(f[1].sum() for f in firsts))} solvable", flush=True)

    def loss_of_batch(idx):
        # every legal first step of the batch's puzzles in one forward pass, then -log P(solvable set) per puzzle
        scores = learned_logprobs(model, [d for i in idx for d in firsts[i][0]], pad)
        scores = scores.split([len(firsts[i][1]) for i in idx])
        set_loss = torch.stack([-torch.logsumexp(s[firsts[i][1]], 0) for s, i in zip(scores, idx)]).mean()
        trace = [sft[j] for j in rng.sample(range(len(sft)), a.traces)]
        n_tok = sum(sum(learn) for _, learn in trace)
        return set_loss - learned_logprobs(model, trace, pad).sum() / n_tok, n_tok

    stats = train_loop(model, len(firsts), loss_of_batch,
                       TrainConfig(epochs=a.steps * a.puzzles / len(firsts), batch_size=a.puzzles, lr=a.lr, seed=0))
    save_and_diagnose(task, policy, a.out, stats)


if __name__ == "__main__":
    main()
