"""The calculator's second thoughts (``Calculator(undo=True)``): a policy may take a step back after reading the
numbers it leaves, and only the steps that stand count."""

from fractions import Fraction

from qstar.reasoning.calculator import Calculator, action_segments
from qstar.reasoning.game24 import Game24
from qstar.reasoning.interfaces import Completion
from qstar.reasoning.strategies import greedy
from qstar.reasoning.task import MAX_UNDOS, UNDO, Problem

G = Game24()
P = Problem((4, 5, 6, 10), 24)
SOLUTION = ("10 - 4 = 6 (left: 5 6 6)", "5 * 6 = 30 (left: 6 30)", "30 - 6 = 24 (left: 24)")


def dead_end(state):
    """A legal step from ``state`` after which 24 cannot be made."""
    return next(line for line, nxt in G.moves(state) if not G.state_solvable(nxt))


class TryFirstThenJudge:
    """At every state it first tries a dead end, then the known solution's step; it judges a step by the
    exact solver (or always takes it back, ``always_undo``). Operations are written as a model writes them
    for the calculator (``'10 - 4'``), verdicts as the text before the newline (``''`` or ``' undo'``)."""

    def __init__(self, always_undo=False):
        self.always_undo = always_undo
        self.verdicts = 0

    def logprob(self, prompts, continuations):
        """It prefers the known solution's steps (the operation is all that is scored)."""
        ops = [seg[0][0] for seg in continuations]
        return [0.0 if any(op == s.partition(" =")[0] + " =" for s in SOLUTION) else -1.0 for op in ops]

    def generate(self, prompts, n, temperature, stop, seed):
        out = []
        for prompt in prompts:
            if stop == "line":  # a verdict on the step the prompt ends with
                self.verdicts += 1
                left = prompt.rsplit("(left: ", 1)[1].rstrip(")").split()
                keep = G.solvable([Fraction(x) for x in left], 24) and not self.always_undo
                text = "" if keep else UNDO
            else:
                head, _, rest = prompt.partition("\n")
                state, _ = G.parse_trace(P, rest)
                tried = len(rest.splitlines()) - len(state.steps)  # lines taken back so far
                fresh = not rest.endswith(UNDO + "\n")
                line = dead_end(state) if fresh and tried < MAX_UNDOS else SOLUTION[len(state.steps)]
                text = line.partition(" =")[0]
            out.append([Completion(text, -1.0, 2)] * n)
        return out


def test_a_step_taken_back_does_not_count():
    bad = dead_end(G.initial_state(P))
    text = bad + UNDO + "\n" + "".join(s + "\n" for s in SOLUTION)
    state, why = G.parse_trace(P, text)
    assert why == "ok" and state.steps == SOLUTION
    # the same line without the word stands, and then the solution's first step is not legal any more
    state, why = G.parse_trace(P, bad + "\n" + SOLUTION[0] + "\n")
    assert state.steps == (bad,) and why != "ok"


def test_greedy_with_second_thoughts_rejects_dead_ends():
    stub = TryFirstThenJudge()
    plain = greedy(G, [P], Calculator(stub, G))[0]
    assert not G.score(P, plain.answer).ok  # without second thoughts every first try stands
    res = greedy(G, [P], Calculator(stub, G, undo=True))[0]
    assert res.answer and G.score(P, res.answer).ok
    assert res.steps == SOLUTION
    assert res.log[0].count(UNDO + "\n") == 3  # a dead end tried and taken back at each of the three states
    assert res.usage.tokens == 6 * 2 + stub.verdicts * 2


def test_undos_are_capped_and_no_step_is_tried_twice():
    stub = TryFirstThenJudge(always_undo=True)
    cal = Calculator(stub, G, undo=True)
    res = greedy(G, [P], cal)[0]
    lines = res.log[0].splitlines()
    taken_back = [ln for ln in lines if ln.endswith(UNDO)]
    assert len(taken_back) == MAX_UNDOS and lines[MAX_UNDOS] == res.steps[0]  # then every step stands
    left = [G.apply(G.initial_state(P), ln.removesuffix(UNDO))[0].values for ln in taken_back]
    assert len(set(left)) == MAX_UNDOS  # the stub repeats the solution's step; the calculator tries another
    assert cal.retries >= MAX_UNDOS - 2 and len(res.steps) == 3


def test_an_illegal_step_is_replaced_by_the_most_probable_legal_one():
    class Illegal(TryFirstThenJudge):
        def generate(self, prompts, n, temperature, stop, seed):
            if stop == "line":
                return super().generate(prompts, n, temperature, stop, seed)
            return [[Completion("99 + 1", -1.0, 2)] * n for _ in prompts]

    cal = Calculator(Illegal(), G, undo=True)
    res = greedy(G, [P], cal)[0]
    assert res.answer and G.score(P, res.answer).ok  # each step its most probable legal one, judged as before
    assert cal.retries >= 3 and "99" not in res.log[0]
    plain = greedy(G, [P], Calculator(Illegal(), G))[0]
    assert plain.answer is None and plain.log[0] == "99 + 1 = ?\n"


def test_one_step_proposals_are_first_tries():
    """Search asks for one step at a time; second thoughts do not apply there (no verdict is asked)."""
    stub = TryFirstThenJudge()
    out = Calculator(stub, G, undo=True).generate([G.prompt(P)], n=1, temperature=0.0, stop="line", seed=0)
    assert out[0][0].text == dead_end(G.initial_state(P)) and stub.verdicts == 0


def test_action_segments_learn_the_verdict():
    assert action_segments("10 - 4 = 6 (left: 5 6 6)\n7 + 6 = 13 (left: 5 13) undo\n", undo=True) == [
        ("10 - 4 =", True), (" 6 (left: 5 6 6)", False), ("\n", True),
        ("7 + 6 =", True), (" 13 (left: 5 13)", False), (" undo\n", True)]


def test_the_table_can_run_a_policy_without_its_second_thoughts():
    from qstar.reasoning.evaluate import Method, evaluate

    stub = TryFirstThenJudge()
    rows = evaluate(G, [P], Calculator(stub, G, undo=True), {}, [
        Method("greedy", "greedy"), Method("greedy, no second thoughts", "greedy", second_thoughts=False)])
    assert [r["solved"] for r in rows] == [1, 0]
