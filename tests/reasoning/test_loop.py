"""The improvement loop end to end on a toy configuration: files, metrics, resume."""

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from qstar.core.errors import ConfigError  # noqa: E402
from qstar.reasoning.game24 import Game24  # noqa: E402
from qstar.reasoning.loop import LoopConfig, acting_policy, first_step_choices, run_loop  # noqa: E402
from qstar.reasoning.policy import LMPolicy  # noqa: E402

TOY = dict(seed=0, extra_split=None, train_problems=12, traces_per_problem=1, sft_epochs=0.5, search_problems=4, search_width=2,
           search_proposals=2, samples_per_problem=1, finetune_epochs=0.5, label_problems=3, label_samples=1,
           rollouts=1, value_epochs=0.5, eval_problems=3, eval_beam=True, policy_layers=1, policy_width=16,
           value_layers=1, value_width=16, vocab_size=280, step_label_problems=2, step_label_problems_round=1,
           value_epochs_round=0.5, first_step_steps=3, first_step_puzzles=2, first_step_traces=4, undo_steps=0,
           undo_steps_round=0)


def test_loop_writes_its_run_folder_and_resumes(tmp_path):
    run = tmp_path / "run"
    m = run_loop(Game24(), run, LoopConfig(rounds=1, **TOY), log=lambda s: None)
    assert [r["round"] for r in m] == [0, 1]
    for name in ("config.json", "metrics.jsonl", "summary.md", "solve_rate.png", "models.json",
                 "policy/config.json", "policy/model.safetensors", "prm/model.safetensors", "orm/value.json"):
        assert (run / name).exists(), name
    assert json.loads((run / "models.json").read_text()) == {"task": "game24", "calculator": True, "undo": False}
    assert {"greedy", "beam5", "mcts", "label_agreement", "cpu_seconds"} <= set(m[1])
    assert m[0]["step_label_problems"] == 2 and m[1]["step_label_problems"] == 1
    assert m[0]["first_step"]["steps"] == 3 and m[0]["first_step_problems"] == 12
    with pytest.raises(ConfigError):
        run_loop(Game24(), run, LoopConfig(rounds=1, **TOY), log=lambda s: None)
    m2 = run_loop(Game24(), run, LoopConfig(rounds=2, **TOY), resume=True, log=lambda s: None)
    assert [r["round"] for r in m2] == [0, 1, 2]


def test_loop_with_mcts_search_and_synthetic_training_puzzles(tmp_path):
    cfg = LoopConfig(rounds=1, **{**TOY, "eval_beam": False, "extra_split": "synthetic"}, search="mcts",
                     search_sims=8, extra_traces_per_problem=1)
    m = run_loop(Game24(), tmp_path / "run", cfg, log=lambda s: None)
    assert m[0]["sft_traces"] == 12 + 12  # one solver trace for each of 12 training and 12 synthetic puzzles
    assert m[1]["search"] == "mcts" and 0 <= m[1]["search_alone_solved"] <= 1
    # solutions come only from the verifier-checked search and samples of the 4 searched problems
    assert m[1]["kept_solutions"] >= round(4 * m[1]["search_alone_solved"])
    with pytest.raises(ConfigError):
        LoopConfig(search="dfs")


def test_loop_accumulates_verified_solutions_and_searches_puzzles_it_has_no_traces_of(tmp_path):
    run = tmp_path / "run"
    cfg = LoopConfig(rounds=2, **{**TOY, "eval_beam": False, "extra_split": "synthetic"}, search="mcts",
                     search_sims=300, extra_traces_per_problem=0, accumulate=True)
    m = run_loop(Game24(), run, cfg, log=lambda s: None)
    assert m[0]["sft_traces"] == 12  # the synthetic puzzles are only searched, never given solver traces
    rounds = [{tuple(x) for x in json.loads((run / f"solutions-{r}.json").read_text())} for r in (1, 2)]
    assert [m[r]["new_solutions"] for r in (1, 2)] == [len(s) for s in rounds]
    assert m[2]["kept_solutions"] == len(rounds[0] | rounds[1]) >= m[2]["new_solutions"]
    g = Game24()  # every kept solution is one the verifier accepts for the puzzle of its prompt
    by_prompt = {g.prompt(p): p for split in ("train", "synthetic") for p in g.problems(split, seed=0)[:12]}
    assert rounds[0] | rounds[1] and all(g.score_trace(by_prompt[q], t).ok for q, t in rounds[0] | rounds[1])


@pytest.mark.parametrize("calculator", [True, False])
def test_first_step_choices_are_every_legal_first_step_labelled_by_the_solver(calculator):
    g = Game24()
    problems = g.problems("train")[:6]
    choices = first_step_choices(g, problems, calculator)
    assert [c[0] for c in choices] == [g.prompt(p) for p in problems]  # all six have a solution
    for p, (_, alts) in zip(problems, choices):
        lines = [line for line, _ in g.moves(g.initial_state(p))]
        assert len(alts) == len(lines)
        firsts = {s[0] for s in g.solve(p)}  # every solution's first step, as the solver writes it
        for line, (target, good) in zip(lines, alts):
            assert good == (line in firsts or any(g.apply(g.initial_state(p), f)[0].values
                                                  == g.apply(g.initial_state(p), line)[0].values for f in firsts))
            assert target == ([(line.partition(" =")[0] + " =", True)] if calculator else [(line + "\n", True)])


def test_choices_further_down_follow_solvable_steps_and_are_labelled_by_the_solver():
    g = Game24()
    problems = g.problems("train")[:4]
    choices = first_step_choices(g, problems, True, depth=3, per_state=2, seed=1)
    by_depth = {}
    for prompt, alts in choices:
        state = g.initial_state(next(p for p in problems if prompt.startswith(g.prompt(p))))
        lines = prompt.split("\n")[1:-1]  # the steps written after the prompt's first line
        for line in lines:  # each written step keeps 24 reachable
            state = g.apply(state, line)[0]
            assert g.state_solvable(state)
        by_depth[len(lines)] = by_depth.get(len(lines), 0) + 1
        legal = list(g.moves(state))
        assert [good for _, good in alts] == [g.state_solvable(nxt) for _, nxt in legal]
        assert any(good for _, good in alts)
    followed = sum(min(2, sum(good for _, good in alts)) for prompt, alts in choices if prompt.count("\n") == 1)
    assert by_depth[0] == 4 and by_depth[1] == followed > 4 and by_depth[2] > by_depth[1]  # up to two per choice
    assert choices == first_step_choices(g, problems, True, depth=3, per_state=2, seed=1)  # seeded


# On a CUDA device (skipped where torch sees none: this project's CI machine has none; run them on a GPU machine).
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


@CUDA
def test_the_loop_runs_on_cuda_and_its_models_load_on_the_cpu(tmp_path):
    m = run_loop(Game24(), tmp_path, LoopConfig(rounds=1, **TOY), log=lambda s: None, device="cuda")
    assert [r["round"] for r in m] == [0, 1] and m[0]["first_step"]["steps"] == 3
    policy = LMPolicy.load(tmp_path / "policy")
    assert all(p.device.type == "cpu" for p in policy.model.parameters())
    g = Game24()
    acting = acting_policy(policy, g, True)
    assert len(acting.generate([g.prompt(g.problems("test")[0])], n=1, temperature=0.0, stop="end", seed=0)) == 1


class Indifferent:
    """A policy that gives every step the same probability: it tries the legal steps in the rules' order."""

    def logprob(self, prompts, continuations):
        return [0.0] * len(prompts)


def test_second_thought_traces_take_back_exactly_the_dead_ends():
    """Every step is tried in the policy's order; a step that leaves 24 unreachable is taken back, the first
    that keeps it reachable stands, and the steps that stand solve the puzzle (unless the undos ran out)."""
    from qstar.reasoning.loop import second_thought_traces
    from qstar.reasoning.task import MAX_UNDOS, UNDO, Problem

    g = Game24()
    puzzles = [Problem((4, 5, 6, 10), 24), Problem((1, 1, 4, 6), 24), Problem((1, 1, 1, 1), 24)]  # the last unsolvable
    prompts, comps = second_thought_traces(g, Indifferent(), puzzles, traces=3, seed=0)
    assert len(comps) == 6 and set(prompts) == {g.prompt(p) for p in puzzles[:2]}
    undone = 0
    for prompt, text in zip(prompts, comps):
        problem = puzzles[[g.prompt(p) for p in puzzles].index(prompt)]
        state, undos = g.initial_state(problem), 0
        for line in text.splitlines():
            back = line.endswith(UNDO)
            nxt, why = g.apply(state, line.removesuffix(UNDO))
            assert nxt is not None, why
            assert back == (not g.state_solvable(nxt)) or (not back and undos == MAX_UNDOS)
            undos += back
            state = state if back else nxt
        undone += undos
        assert undos <= MAX_UNDOS and (g.score_trace(problem, text).ok or undos == MAX_UNDOS)
    assert undone > 0
    # the first trace of a puzzle follows the policy's order (here: the order of the legal steps); the others vary
    first = next(line for line, nxt in g.moves(g.initial_state(puzzles[0])))
    assert comps[0].splitlines()[0].removesuffix(UNDO) == first
    assert len(set(comps[:3])) > 1


def test_loop_with_second_thoughts(tmp_path):
    """undo_steps > 0: round 0 trains on traces that take dead ends back; undo_steps_round > 0: every round
    learns the current policy's, on fresh problems; the models folder says so, so loading it gives the policy
    its second thoughts."""
    from qstar.cli.reasoning import _load_models

    run = tmp_path / "run"
    m = run_loop(Game24(), run, LoopConfig(rounds=1, **{**TOY, "undo_steps": 2, "undo_steps_round": 3, "undo_traces": 2,
                                                           "undo_problems_round": 3}), log=lambda s: None)
    assert m[0]["second_thoughts"]["steps"] == 2
    assert m[1]["second_thoughts"]["steps"] == 3 and m[1]["second_thoughts"]["traces"] == 3 * 2
    assert json.loads((run / "models.json").read_text())["undo"] is True
    policy, _ = _load_models("game24", run)
    assert policy.undo is True
    with pytest.raises(ConfigError, match="calculator"):
        LoopConfig(undo_steps=5, calculator=False)
