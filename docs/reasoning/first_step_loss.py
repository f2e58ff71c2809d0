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
from qstar.reasoning.lm import TrainConfig, encode_pairs, pad_batch, quiet_transformers, train_loop
from qstar.reasoning.loop import solver_traces, targets
from qstar.reasoning.policy import LMPolicy

from search_ablation import save_and_diagnose


def token_logprobs(model, data):
    """Per sequence: the sum of the log-probabilities of its learned tokens (with gradients)."""
    ids, mask = pad_batch([d[0] for d in data], 0)
    learn, _ = pad_batch([[int(x) for x in d[1]] for d in data], 0)
    logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
    return (logp.gather(-1, ids[:, 1:, None]).squeeze(-1) * learn[:, 1:]).sum(-1)


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
    puzzles = task.problems("train") + task.problems("synthetic")
    firsts = []  # per puzzle: (encoded heads of every legal first step, solvable mask)
    for p in puzzles:
        heads, ok = [], []
        for line, nxt in task.moves(task.initial_state(p)):
            heads.append(line.partition(" =")[0] + " =")
            ok.append(task.state_solvable(nxt))
        if any(ok):
            firsts.append((encode_pairs(tok, [task.prompt(p)] * len(heads), [[(h, True)] for h in heads], add_eos=False),
                           torch.tensor(ok)))
    prompts, comps = solver_traces(task, puzzles, 6, 0)
    sft = encode_pairs(tok, prompts, targets(comps, True))
    rng = random.Random(0)
    print(f"{len(firsts)} puzzles with a solvable first step; {sum(len(f[1]) for f in firsts)} legal first steps, "
          f"{int(sum(f[1].sum() for f in firsts))} solvable", flush=True)

    def loss_of_batch(idx):
        set_loss = []
        for i in idx:
            data, ok = firsts[i]
            s = token_logprobs(model, data)
            set_loss.append(-torch.logsumexp(s[ok], 0))
        trace = rng.sample(range(len(sft)), a.traces)
        tl = -token_logprobs(model, [sft[j] for j in trace])
        n_tok = sum(sum(sft[j][1]) for j in trace)
        return torch.stack(set_loss).mean() + tl.sum() / n_tok, n_tok

    stats = train_loop(model, len(firsts), loss_of_batch,
                       TrainConfig(epochs=a.steps * a.puzzles / len(firsts), batch_size=a.puzzles, lr=a.lr, seed=0))
    save_and_diagnose(task, policy, a.out, stats)

if __name__ == "__main__":
    main()
