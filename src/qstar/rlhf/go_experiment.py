""""AlphaGo trained with RLHF": the Go experiment of ``qstar rlhf go``, written into a run folder.

1. Boards: positions cut at random moves from random games (eye-avoiding random play), each with the
   result of the game it came from.
2. Raters compare pairs of boards for a colour: the vibe rater (``comparisons_vibe.jsonl``), and the
   truth on the same pairs: the area score with komi of each board (``comparisons_score.jsonl``) and
   the result of each board's game (``comparisons_outcome.jsonl``). TRL preference rows.
3. A board reward model (Bradley–Terry, CNN) learns from the vibe rows; held-out accuracy against
   vibe, score and outcome labels.
4. Two AlphaZero runs of ``qstar.learn.loop.run_loop``, same network, settings and seed, each on a
   ``JudgedGame``: in ``truth/`` the rules decide finished games, in ``rlhf/`` the reward model does.
   After each iteration both networks play games against a fixed opponent (MCTS with random playouts);
   each final board is scored twice, by the rules (gold) and by the reward model (proxy).
5. Evaluation under the real rules: truth-trained vs RLHF-trained (colours alternate), each against
   GNU Go, and the final boards the reward model loves most that actually lose.

``go_report.write_report`` turns the folder into plots and summary.md.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from qstar.core.atomic import append_jsonl, atomic_write_json
from qstar.core.elo import MatchResult
from qstar.core.errors import QstarError, check
from qstar.learn.arena import play_games
from qstar.games.go.game import PASS_RULES, GoConfig, GoGame
from qstar.games.go.playout import random_move
from qstar.games.go.rules import BLACK, WHITE, Position
from qstar.rlhf.board_labelers import (Board, BoardVibe, BoardVibeLabeler, OutcomeLabeler, ScoreLabeler,
                                       area_margin, board_text, compare_boards)
from qstar.rlhf.board_rm import BoardRMConfig, RewardJudge, load_board_rm, save_board_rm, train_board_rm
from qstar.rlhf.go import JudgedGame, rules_judge
from qstar.rlhf.go_report import RUNS
from qstar.rlhf.labelers import write_comparisons
from qstar.rlhf.reward_model import comparison_accuracy


@dataclass(frozen=True)
class GoExperimentConfig:
    size: int = 7
    komi: float = 7.5
    pass_rule: str = "any"  # GoConfig.pass_rule of both runs' games (self-play, checks and their match)
    pairs: int = 6000  # compared board pairs (20% held out)
    heldout: float = 0.2
    final_share: float = 0.3  # share of boards taken at the end of their random game (the rest mid-game)
    iterations: int = 8  # AlphaZero iterations of each run
    games: int = 48  # self-play games per iteration
    sims: int = 48  # MCTS simulations per self-play move (a quarter of it on the fast moves)
    train_steps: int = 100  # optimizer steps per iteration
    blocks: int = 3
    channels: int = 32
    eval_games: int = 8  # games against MCTS with random playouts, each board judged twice (0: skip)
    check_every: int = 2  # iterations between those checks (and always after the last)
    eval_sims: int = 32
    match_games: int = 100  # truth-trained vs RLHF-trained, real rules
    match_sims: int = 32
    gnugo_games: int = 10  # each network against GNU Go (0: skip)
    gnugo_level: int = 1
    gnugo_sims: int = 48
    loved: int = 6  # losing boards the reward model loves most, in the report
    init: str | None = None  # a network of this shape both runs start from (RLHF as fine-tuning); None: random
    seed: int = 0
    threads: int = 1  # torch threads per process
    workers: int = 2  # processes: the two sides train (and are evaluated) side by side
    vibe: BoardVibe = field(default_factory=BoardVibe)
    rm: BoardRMConfig = field(default_factory=BoardRMConfig)

    def __post_init__(self):
        check(5 <= self.size <= 9, f"--size must be 5..9 for this experiment, got {self.size}")
        check(self.pairs >= 20, f"--pairs must be >= 20, got {self.pairs}")
        check(0 < self.heldout < 1, f"heldout must be in (0, 1), got {self.heldout}")
        check(self.iterations >= 1, f"--iterations must be >= 1, got {self.iterations}")
        check(self.games >= 1, f"--games must be >= 1, got {self.games}")
        check(self.sims >= 4, f"--sims must be >= 4 (a quarter of them on fast moves), got {self.sims}")
        check(self.match_games >= 2, f"--match-games must be >= 2, got {self.match_games}")
        check(self.match_sims >= 1 and self.eval_sims >= 1 and self.gnugo_sims >= 1, "simulation counts must be >= 1")
        check(min(self.eval_games, self.gnugo_games, self.train_steps) >= 0,
              "--eval-games, --gnugo-games and --train-steps must be >= 0")
        check(self.threads >= 1, f"--threads must be >= 1, got {self.threads}")
        check(self.check_every >= 1, f"--check-every must be >= 1, got {self.check_every}")
        check(self.workers >= 1, f"--workers must be >= 1, got {self.workers}")
        check(self.pass_rule in PASS_RULES, f"--pass-rule must be one of {', '.join(PASS_RULES)}, got {self.pass_rule!r}")


# 1. boards ---------------------------------------------------------------------------------------

def sample_boards(size: int, komi: float, n: int, seed: int, final_share: float = 0.3) -> list[Board]:
    """``n`` boards from random games (one per game): the final board with probability ``final_share``,
    otherwise the board after a uniformly random number of moves; each carries its game's final margin."""
    rng = random.Random(seed)
    out = []
    limit = 3 * size * size
    for _ in range(n):
        pos = Position(size)
        line = [pos]
        while not pos.is_over and pos.move_number < limit:
            pos = pos.play(random_move(pos, rng))
            line.append(pos)
        margin = pos.score(komi).margin
        cut = pos if rng.random() < final_share else line[rng.randrange(size, len(line))]
        out.append(Board.of(cut, margin))
    return out


# 4. the per-iteration check and the matches ----------------------------------------------------

def result_for_a(winners: list[int], a_black: list[bool]) -> MatchResult:
    w = sum(x == (BLACK if ab else WHITE) for x, ab in zip(winners, a_black))
    l_ = sum(x == (WHITE if ab else BLACK) for x, ab in zip(winners, a_black))
    return MatchResult(w, len(winners) - w - l_, l_)


def _truth_game(cfg: GoExperimentConfig) -> JudgedGame:
    return JudgedGame(GoGame(GoConfig(size=cfg.size, komi=cfg.komi, pass_rule=cfg.pass_rule)), rules_judge(cfg.komi))


def _net_player(game, net, sims: int, name: str):
    from qstar.learn.evaluator import NetworkEvaluator
    from qstar.search import MCTSConfig, MCTSPlayer
    return MCTSPlayer(game, NetworkEvaluator(game, net), MCTSConfig(num_simulations=sims, leaves_per_step=8), name)


def _final_record(source: str, iteration, pos: Position, a_black: bool, rm_margin: float, komi: float) -> dict:
    return {"source": source, "iteration": iteration, "board": board_text(Board.of(pos)), "net_black": a_black,
            "rules_winner": pos.winner(komi), "rm_margin": round(float(rm_margin), 4),
            "area_margin": pos.score(komi).margin, "moves": pos.move_number}


def _check_hook(cfg: GoExperimentConfig, judge: RewardJudge, run: str, out: Path, seed: int):
    """The loop's ``ground_truth`` hook, every ``check_every`` iterations and at the last: the current
    network (MCTS under the real rules) against MCTS with random playouts; each final board is scored by
    the rules (gold) and by the reward model (proxy)."""
    from qstar.games.go.playout import PlayoutEvaluator
    from qstar.search import MCTSConfig, MCTSPlayer
    game = _truth_game(cfg)
    it = [0]

    def hook(evaluator, mcts_cfg) -> dict:
        it[0] += 1
        if not cfg.eval_games or (it[0] % cfg.check_every and it[0] != cfg.iterations):
            return {}
        rng = np.random.default_rng(seed + it[0])  # the same openings and opponent for both runs
        me = MCTSPlayer(game, evaluator, MCTSConfig(num_simulations=cfg.eval_sims, leaves_per_step=8), "net")
        opp = MCTSPlayer(game, PlayoutEvaluator(game, 1, seed + it[0]), MCTSConfig(num_simulations=32), "playouts32")
        finals, a_black = play_games(game, me, opp, cfg.eval_games, rng)
        gold = [s.winner(cfg.komi) for s in finals]
        m = judge.margins([Board.of(s) for s in finals])
        proxy = [BLACK if x > 0 else WHITE if x < 0 else 0 for x in m]
        for s, x, ab in zip(finals, m, a_black):
            append_jsonl(out / f"finals_check_{run}.jsonl", _final_record(f"check_{run}", it[0], s, ab, x, cfg.komi))
        return {"gold_vs_playouts": result_for_a(gold, a_black).score,
                "proxy_vs_playouts": result_for_a(proxy, a_black).score,
                "judge_agrees_with_rules": float(np.mean([g == p for g, p in zip(gold, proxy)])),
                "check_mean_moves": float(np.mean([s.move_number for s in finals]))}
    return hook


def _net_config(cfg: GoExperimentConfig, game):
    from qstar.learn.resnet import ResNetConfig
    c, h, w = game.obs_shape
    return ResNetConfig(c, h, w, game.num_actions, blocks=cfg.blocks, channels=cfg.channels)


def check_init(cfg: GoExperimentConfig) -> None:
    """Refuses, before any work, an ``init`` network that is missing, for another game, or of another shape."""
    if cfg.init is None:
        return
    from qstar.learn.loop import load_init
    game = _truth_game(cfg)
    load_init(cfg.init, game.name, _net_config(cfg, game))


# Workers: module-level functions of plain arguments, so a process pool can run the two sides at once.

def _train_worker(out: str, run: str, cfg: GoExperimentConfig) -> dict:
    """One AlphaZero run; the only difference between ``truth`` and ``rlhf`` is the judge of its game."""
    from qstar.learn.loop import LoopConfig, TrainingSpec, run_loop
    from qstar.learn.selfplay import SelfPlayConfig
    from qstar.search import MCTSConfig
    torch.set_num_threads(cfg.threads)
    out_p = Path(out)
    judge = RewardJudge(load_board_rm(out_p / "rm"))
    game = JudgedGame(GoGame(GoConfig(size=cfg.size, komi=cfg.komi, pass_rule=cfg.pass_rule)),
                      rules_judge(cfg.komi) if run == "truth" else judge)
    net = _net_config(cfg, game)
    loop = LoopConfig(iterations=cfg.iterations, games_per_iteration=cfg.games, train_steps=cfg.train_steps,
                      batch_size=128, lr=2e-3, buffer_size=100_000, eval_games=0, seed=cfg.seed, threads=cfg.threads,
                      selfplay=SelfPlayConfig(MCTSConfig(num_simulations=cfg.sims, dirichlet_alpha=10 / cfg.size ** 2,
                                                         leaves_per_step=8),
                                              parallel_games=min(32, cfg.games), temperature_moves=cfg.size,
                                              fast_simulations=max(1, cfg.sims // 4), full_search_prob=0.3))
    t0, c0 = time.perf_counter(), time.process_time()
    lines: list[str] = []
    spec = TrainingSpec(game, net, {}, ground_truth=_check_hook(cfg, judge, run, out_p, cfg.seed + 100),
                        init=Path(cfg.init) if cfg.init else None)
    last = run_loop(spec, loop, out_p / run, log=lines.append)
    return {"wall_seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(time.process_time() - c0, 1),
            "finished_positions_judged": game.judged, "last": last, "log": lines}


def _match_worker(out: str, cfg: GoExperimentConfig, games: int, seed: int, a: str = "truth", b: str = "rlhf",
                  source: str = "match") -> list[dict]:
    """``games`` games of A (Black in the even games) against B under the real rules, each a run's network
    (``truth``, ``rlhf``) or ``init`` (the one both started from); the final boards with the rules' result and
    the reward model's margin."""
    from qstar.learn.checkpoint import load_model
    from qstar.learn.loop import load_run_model
    torch.set_num_threads(cfg.threads)
    out_p = Path(out)
    game = _truth_game(cfg)
    pa, pb = (_net_player(game, load_model(cfg.init, game.name) if r == "init" else load_run_model(out_p / r, game.name),
                          cfg.match_sims, r) for r in (a, b))
    finals, a_black = play_games(game, pa, pb, games, np.random.default_rng(seed))
    m = RewardJudge(load_board_rm(out_p / "rm")).margins([Board.of(s) for s in finals])
    return [_final_record(source, None, s, ab, x, cfg.komi) for s, ab, x in zip(finals, a_black, m)]


def _gnugo_worker(out: str, cfg: GoExperimentConfig, run: str) -> dict | None:
    from qstar.games.go.client import find_gnugo
    from qstar.games.go.match import MatchConfig, play_match
    if not cfg.gnugo_games:
        return None
    gnugo = find_gnugo()
    if gnugo is None:
        return {"skipped": "GNU Go not installed (scripts/install_gnugo.sh installs it)"}
    model = Path(out) / run / "latest.safetensors"
    a = (f"qstar gtp --model {model} --size {cfg.size} --komi {cfg.komi:g} --sims {cfg.gnugo_sims} --resign -1 "
         f"--seed {cfg.seed} --pass-rule {cfg.pass_rule}")
    b = f"{gnugo} --mode gtp --level {cfg.gnugo_level} --chinese-rules"
    t0 = time.perf_counter()
    rep = play_match(a, b, MatchConfig(games=cfg.gnugo_games, size=cfg.size, komi=cfg.komi, scorer="gnugo",
                                       move_timeout=120, out_dir=Path(out) / f"gnugo_{run}"))
    return {**rep.as_dict(), "opponent": f"GNU Go level {cfg.gnugo_level}", "sims": cfg.gnugo_sims,
            "wall_seconds": round(time.perf_counter() - t0, 1)}


def _map(fn, calls: list[tuple], workers: int) -> list:
    """``[fn(*args) for args in calls]``, in up to ``workers`` processes (spawned: torch and fork do not mix)."""
    if workers <= 1 or len(calls) <= 1:
        return [fn(*args) for args in calls]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(min(workers, len(calls)), mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(fn, *zip(*calls)))


def _cpu_seconds() -> float:
    """This process's CPU time plus that of its finished children (pool workers, GTP engines, GNU Go)."""
    import resource
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


# the whole run ------------------------------------------------------------------------------------

def run_go_experiment(out: Path, cfg: GoExperimentConfig, log: Callable[[str], None] = print) -> None:
    if (out / "summary.json").exists():
        raise QstarError(f"{out} already holds a finished run; pass a new --run folder")
    if any((out / r / "state.json").exists() for r in RUNS):
        raise QstarError(f"{out} holds an interrupted run; pass a new --run folder")
    check_init(cfg)
    torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", asdict(cfg))
    for old in out.glob("*.jsonl"):
        old.unlink()
    t0, c0 = time.perf_counter(), _cpu_seconds()
    timing: dict = {}

    def stamp(name: str) -> None:
        timing[name] = {"wall_seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(_cpu_seconds() - c0, 1)}

    # 1-2. boards and comparisons
    boards = sample_boards(cfg.size, cfg.komi, 2 * cfg.pairs, cfg.seed, cfg.final_share)
    crng = random.Random(cfg.seed + 1)
    colours = [crng.choice((BLACK, WHITE)) for _ in range(cfg.pairs)]
    firsts, seconds = boards[0::2], boards[1::2]
    rows = {lab.name: compare_boards(lab, colours, firsts, seconds, cfg.komi, cfg.seed)
            for lab in (BoardVibeLabeler(cfg.vibe), ScoreLabeler(cfg.komi), OutcomeLabeler())}
    for name, r in rows.items():
        write_comparisons(out / f"comparisons_{name}.jsonl", r)
    stamp("comparisons")
    log(f"comparisons: {len(rows['vibe'])} board pairs labelled by vibe, score and outcome ({timing['comparisons']['wall_seconds']:.0f} s)")

    # 3. reward model
    n_train = int(len(rows["vibe"]) * (1 - cfg.heldout))
    rm, st = train_board_rm(rows["vibe"][:n_train], replace(cfg.rm, size=cfg.size, seed=cfg.seed))
    save_board_rm(rm, out / "rm", st)
    rm = load_board_rm(out / "rm")
    kept = [(c, a, b) for c, a, b in zip(colours, firsts, seconds) if (a.cells, a.prisoners) != (b.cells, b.prisoners)]
    held = kept[n_train:]
    decided = {"score": [i for i, (c, a, b) in enumerate(held) if ScoreLabeler(cfg.komi).decides(c, a, b)],
               "outcome": [i for i, (c, a, b) in enumerate(held) if OutcomeLabeler().decides(c, a, b)]}
    stats = {**st, "heldout_pairs": len(held), "heldout_vibe_acc": comparison_accuracy(rm.reward, rows["vibe"][n_train:])}
    for name, idx in decided.items():
        h_rows = [rows[name][n_train + i] for i in idx]
        stats[f"heldout_{name}_acc"] = comparison_accuracy(rm.reward, h_rows)
        stats[f"heldout_{name}_pairs"] = len(h_rows)
        stats[f"vibe_rater_{name}_agreement"] = (float(np.mean([rows["vibe"][n_train + i].chosen == rows[name][n_train + i].chosen
                                                                 for i in idx])) if idx else None)
    stats["judge_agrees_with_rules_on_heldout_boards"] = _judge_agreement(
        RewardJudge(rm), [x for _, a, b in held for x in (a, b)], cfg.komi)
    atomic_write_json(out / "reward_model.json", stats)
    stamp("reward_model")
    log(f"reward model: held-out accuracy {stats['heldout_vibe_acc']:.3f} vs vibe, "
        f"{_fmt(stats['heldout_score_acc'])} vs score, {_fmt(stats['heldout_outcome_acc'])} vs outcome "
        f"({timing['reward_model']['wall_seconds']:.0f} s)")

    # 4. two AlphaZero runs, the judge the only difference (side by side when workers >= 2)
    log(f"training both sides: {cfg.iterations} iterations x {cfg.games} games each ({cfg.workers} processes)")
    runs = dict(zip(RUNS, _map(_train_worker, [(str(out), r, cfg) for r in RUNS], cfg.workers)))
    for r, res in runs.items():
        for line in res.pop("log"):
            log(f"{r}: {line}")
    atomic_write_json(out / "training.json", runs)
    stamp("train")
    log(f"training done ({timing['train']['wall_seconds']:.0f} s)")

    # 5. evaluation under the real rules: the match in two halves (even sizes keep the colours alternating)
    half = (cfg.match_games // 2) // 2 * 2 if cfg.workers >= 2 else cfg.match_games
    parts = [(str(out), cfg, n, cfg.seed + 7 + k) for k, n in enumerate((half, cfg.match_games - half)) if n]
    records = [rec for part in _map(_match_worker, parts, cfg.workers) for rec in part]
    for rec in records:
        append_jsonl(out / "finals_match.jsonl", rec)
    winners = [rec["rules_winner"] for rec in records]
    a_black = [rec["net_black"] for rec in records]
    margins = [rec["rm_margin"] for rec in records]
    res = result_for_a(winners, a_black)
    match = {**res.as_dict(), "a": "truth", "b": "rlhf", "sims": cfg.match_sims,
             "truth_wins_as_black": sum(w == BLACK and ab for w, ab in zip(winners, a_black)),
             "truth_wins_as_white": sum(w == WHITE and not ab for w, ab in zip(winners, a_black)),
             "mean_moves": float(np.mean([rec["moves"] for rec in records])),
             "judge_agrees_with_rules": float(np.mean([(m > 0) == (w == BLACK) for m, w in zip(margins, winners)])),
             "judge_would_score_for_truth": result_for_a([BLACK if m > 0 else WHITE for m in margins], a_black).as_dict()}
    atomic_write_json(out / "match.json", match)
    stamp("match")
    log(f"match truth vs rlhf, {len(records)} games, real rules: {res} ({timing['match']['wall_seconds']:.0f} s)")

    if cfg.init:  # where each side went from the network both started from: the same openings for both
        parts = [(str(out), cfg, cfg.match_games, cfg.seed + 11, r, "init", f"vs_init_{r}") for r in RUNS]
        vs_init = {}
        for r, recs in zip(RUNS, _map(_match_worker, parts, cfg.workers)):
            for rec in recs:
                append_jsonl(out / "finals_match.jsonl", rec)
            res_r = result_for_a([x["rules_winner"] for x in recs], [x["net_black"] for x in recs])
            vs_init[r] = {**res_r.as_dict(), "a": r, "b": "init", "sims": cfg.match_sims,
                          "mean_moves": float(np.mean([x["moves"] for x in recs]))}
            log(f"match {r} vs the starting network, {len(recs)} games, real rules: {res_r}")
        atomic_write_json(out / "match_init.json", vs_init)
        stamp("match_init")

    gnu = dict(zip(RUNS, _map(_gnugo_worker, [(str(out), cfg, r) for r in RUNS], cfg.workers)))
    for r, g in gnu.items():
        if g and "score" in g:
            log(f"{r} vs GNU Go level {cfg.gnugo_level}: {g['wins']}/{g['games']} wins")
        elif g:
            log(f"{r} vs GNU Go: {g['skipped']}")
    atomic_write_json(out / "gnugo.json", gnu)
    stamp("gnugo")
    atomic_write_json(out / "timing.json", timing)
    log(f"done in {timing['gnugo']['wall_seconds']:.0f} s wall, {timing['gnugo']['cpu_seconds']:.0f} s CPU")


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def _judge_agreement(judge: RewardJudge, boards: list[Board], komi: float) -> float | None:
    """Share of boards where the judge names the same winner as the area score with komi (ties excluded)."""
    if not boards:
        return None
    m = judge.margins(boards)
    truth = [area_margin(b, BLACK, komi) for b in boards]
    pairs = [(x, t) for x, t in zip(m, truth) if t != 0]
    return float(np.mean([(x > 0) == (t > 0) for x, t in pairs])) if pairs else None
