"""The self-improvement loop: self-play → replay buffer → training → evaluation → checkpoint → repeat.

Everything a run produces lives in its run folder:
  config.json, metrics.jsonl, state.json (the commit point of an iteration), model_NNNN.safetensors,
  latest.safetensors, optimizer_NNNN.pt, replay_NNNN.npz, plots/*.png, summary.md; with ``final_steps``,
  final.safetensors and final.json (its commit point).
An iteration's files are written first, each atomically; ``state.json`` is written last and names them,
so a run killed at any moment resumes (``resume=True``) from the last completed iteration, bit for bit.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from qstar.core.atomic import atomic_write_json, append_jsonl, read_jsonl, atomic_write_text
from qstar.core.errors import CheckpointError, ConfigError, check
from qstar.core.evaluator import Evaluator
from qstar.core.game import Game, variant
from qstar.core.progress import progress_bar
from qstar.learn.arena import play_match
from qstar.learn.checkpoint import load_model, load_torch, save_model, save_torch
from qstar.learn.evaluator import NetworkEvaluator
from qstar.learn.executor import Executor, LocalExecutor, SelfPlayWorker
from qstar.learn.replay import ReplayBuffer
from qstar.learn.resnet import PolicyValueNet, ResNetConfig
from qstar.learn.selfplay import SelfPlayConfig, augment
from qstar.learn.trainer import train_steps
from qstar.search import MCTSConfig, MCTSPlayer, Player


@dataclass(frozen=True)
class LoopConfig:
    iterations: int = 10
    games_per_iteration: int = 200
    selfplay: SelfPlayConfig = field(default_factory=SelfPlayConfig)
    train_steps: int = 200  # optimizer steps per iteration
    batch_size: int = 256
    lr: float = 2e-3
    # step schedule: ((iteration, lr), ...) — from that iteration on, train at that lr (before the first: ``lr``)
    lr_schedule: tuple = ()
    weight_decay: float = 1e-4
    buffer_size: int = 200_000  # positions, symmetric copies included
    eval_games: int = 40  # games against the previous iteration and each baseline; 0 = skip
    eval_simulations: int = 50
    gating: bool = False  # keep the previous best unless the new net scores >= gating_threshold against it
    gating_threshold: float = 0.55
    seed: int = 0
    threads: int = 0  # torch threads; 0 = torch's default
    # after the last iteration: a fresh network (the spec's final_net) trained from scratch on the final replay
    # buffer for this many steps, at lr, then FINAL_LR_STEPS; it becomes the run's result (0 = none)
    final_steps: int = 0

    def __post_init__(self):
        check(self.iterations >= 1, f"iterations must be >= 1, got {self.iterations}")
        check(self.games_per_iteration >= 1, f"games_per_iteration must be >= 1, got {self.games_per_iteration}")
        check(self.train_steps >= 0, f"train_steps must be >= 0, got {self.train_steps}")
        check(self.final_steps >= 0, f"final_steps must be >= 0, got {self.final_steps}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        check(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        check(self.buffer_size >= self.batch_size, "buffer_size must be >= batch_size")
        check(self.eval_games >= 0 and self.eval_simulations >= 1, "eval_games must be >= 0, eval_simulations >= 1")
        check(0.0 < self.gating_threshold < 1.0, "gating_threshold must be in (0, 1)")
        object.__setattr__(self, "lr_schedule", tuple(tuple(step) for step in self.lr_schedule))
        check(all(len(s) == 2 and s[0] >= 1 and s[1] > 0 for s in self.lr_schedule),
              "lr_schedule must be (iteration >= 1, lr > 0) pairs")
        check(list(self.lr_schedule) == sorted(self.lr_schedule), "lr_schedule must be in iteration order")

    def lr_at(self, iteration: int) -> float:
        """The learning rate of an iteration under ``lr_schedule``."""
        lr = self.lr
        for start, value in self.lr_schedule:
            if iteration >= start:
                lr = value
        return lr

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> "LoopConfig":
        sp = dict(d["selfplay"])
        sp["mcts"] = MCTSConfig(**sp["mcts"])
        return LoopConfig(**{**d, "selfplay": SelfPlayConfig(**sp)})


FINAL_LR_STEPS = ((0.5, 0.3), (0.8, 0.1))  # the final network's lr: x0.3 from half its steps, x0.1 from 80%


@dataclass
class TrainingSpec:
    """What a domain gives the loop: the game, the network shape, baselines, and a ground-truth check.

    ``ground_truth(evaluator, mcts_config)`` returns figures measured against the truth (a perfect-play
    check, mistake rates on solved positions); the loop logs them each iteration.
    """
    game: Game
    net: ResNetConfig
    baselines: dict[str, Callable[[], Player]] = field(default_factory=dict)
    ground_truth: Callable[[Evaluator, MCTSConfig], dict] | None = None
    goal: Callable[[dict], bool] | None = None  # metrics of an iteration -> the ground-truth goal is reached
    final_net: ResNetConfig | None = None  # the final network's shape (LoopConfig.final_steps; default: net)
    init: Path | None = None  # a checkpoint of shape ``net`` the network starts from (fine-tuning); None: random


def run_loop(spec: TrainingSpec, cfg: LoopConfig, run_dir: str | Path, resume: bool = False,
             executor: Executor | None = None, log: Callable[[str], None] = print, stop_at_goal: bool = False,
             device: str = "cpu", lr: float | None = None) -> dict:
    """Train; returns the last metrics line. ``resume`` continues the run in ``run_dir`` (its config.json rules;
    ``lr``, when given, becomes its learning rate from the next iteration on, added to its ``lr_schedule``);
    ``stop_at_goal`` ends the run at the first iteration whose metrics meet ``spec.goal``. ``device``: where
    the learner trains and the evaluation's and the local executor's network run (checkpoints are CPU
    tensors either way, so a run may resume on another device); a run is bit-reproducible on CPU only."""
    run_dir = Path(run_dir)
    game = spec.game
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    state_path = run_dir / "state.json"
    loop_state = {"iteration": 0, "elo": 0.0, "best": None}
    check(lr is None or lr > 0, f"--lr must be > 0, got {lr}")
    if resume:
        if not state_path.exists():
            raise ConfigError(f"nothing to resume in {run_dir}: no state.json (start without --resume)")
        saved = json.loads((run_dir / "config.json").read_text())
        if saved["game"] != game.name:
            raise ConfigError(f"{run_dir} is a {saved['game']} run, not {game.name}")
        cfg = LoopConfig.from_json({**saved["loop"], "iterations": cfg.iterations, "final_steps": cfg.final_steps})
        loop_state = json.loads(state_path.read_text())
        nxt = loop_state["iteration"] + 1
        if lr is not None and lr != cfg.lr_at(nxt):
            cfg = replace(cfg, lr_schedule=(*(s for s in cfg.lr_schedule if s[0] < nxt), (nxt, lr)))
            log(f"learning rate {lr:g} from iteration {nxt} on")
    elif state_path.exists():
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --run-dir")
    elif lr is not None:
        cfg = replace(cfg, lr=lr)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / "config.json", {"game": game.name, "net": spec.net.as_dict(), "loop": cfg.to_json(),
                                               "final_net": (spec.final_net or spec.net).as_dict()})

    torch.manual_seed(cfg.seed)
    net = PolicyValueNet(spec.net).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    buffer = ReplayBuffer(game.obs_shape, game.num_actions, cfg.buffer_size)
    rng = np.random.default_rng(cfg.seed)
    if resume:
        it = loop_state["iteration"]
        net.load_state_dict(load_model(run_dir / f"model_{it:04d}.safetensors", game.name).state_dict())
        extra = load_torch(run_dir / f"optimizer_{it:04d}.pt")
        opt.load_state_dict(extra["optimizer"])  # its state moves to the parameters' device
        for group in opt.param_groups:  # the run's config.json is the source of truth (lr: its lr_schedule)
            group["weight_decay"] = cfg.weight_decay  # the lr is set at the start of each iteration
        torch.set_rng_state(extra["torch_rng"])
        buffer.load(run_dir / f"replay_{it:04d}.npz")
        rng.bit_generator.state = loop_state["rng"]
        metrics = [m for m in read_jsonl(run_dir / "metrics.jsonl") if m["iteration"] <= it]
        atomic_write_text(run_dir / "metrics.jsonl", "".join(json.dumps(m, sort_keys=True) + "\n" for m in metrics))
        log(f"resumed {run_dir} after iteration {it}")
    else:
        if spec.init is not None:
            net.load_state_dict(load_init(spec.init, game.name, spec.net).state_dict())
        save_model(run_dir / "model_0000.safetensors", net, game.name, {"iteration": 0, **variant(game)})

    executor = executor or LocalExecutor(SelfPlayWorker(game, spec.net, cfg.selfplay, device=device))
    last: dict = {}
    eval_mcts = MCTSConfig(num_simulations=cfg.eval_simulations, leaves_per_step=cfg.selfplay.mcts.leaves_per_step)
    try:
        while loop_state["iteration"] < cfg.iterations:
            it = loop_state["iteration"] + 1
            t0 = time.perf_counter()
            lr = cfg.lr_at(it)
            for group in opt.param_groups:
                group["lr"] = lr
            weights = {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}
            with progress_bar(f"iter {it} self-play", cfg.games_per_iteration, "games") as bar:
                records = executor.self_play(weights, cfg.games_per_iteration, int(rng.integers(2**31)), bar)
            positions = 0
            for rec in records:
                obs, pi, z = augment(game, rec, cfg.selfplay.value_q_weight)
                buffer.add(obs, pi, z)
                positions += len(rec.z)
            t_play = time.perf_counter() - t0
            t1 = time.perf_counter()
            with progress_bar(f"iter {it} training", cfg.train_steps, "steps") as bar:
                losses = train_steps(net, opt, buffer, cfg.train_steps, cfg.batch_size, rng, bar)
            t_train = time.perf_counter() - t1
            t2 = time.perf_counter()
            m = {"iteration": it, **losses, "games": len(records), "positions": positions,
                 "buffer": buffer.size, "lr": lr, "mean_game_length": float(np.mean([r.length for r in records])),
                 "first_player_score": float(np.mean([(r.result + 1) / 2 for r in records]))}
            ev_new = NetworkEvaluator(game, net, device=device)
            if cfg.eval_games:
                new_player = MCTSPlayer(game, ev_new, eval_mcts, "new")
                prev = PolicyValueNet(spec.net)  # only built when it is played against
                prev.load_state_dict(weights)
                prev_player = MCTSPlayer(game, NetworkEvaluator(game, prev, device=device), eval_mcts, "prev")
                vs_prev = play_match(game, new_player, prev_player, cfg.eval_games, rng)
                m["vs_previous"] = vs_prev.as_dict()
                m["elo"] = loop_state["elo"] + vs_prev.elo()
                for name, make in spec.baselines.items():
                    m[f"vs_{name}"] = play_match(game, new_player, make(), cfg.eval_games, rng).as_dict()
                if cfg.gating and vs_prev.score < cfg.gating_threshold:
                    net.load_state_dict(weights)
                    ev_new.refresh()  # the ground truth below measures the net that is kept
                    m["gated"] = True
                    m["elo"] = loop_state["elo"]
            if spec.ground_truth:
                m.update(spec.ground_truth(ev_new, eval_mcts))
            t_eval = time.perf_counter() - t2
            m.update({"seconds_selfplay": round(t_play, 2), "seconds_train": round(t_train, 2),
                      "seconds_eval": round(t_eval, 2), "positions_per_second": round(positions / max(t_play, 1e-9), 1)})
            _commit_iteration(run_dir, it, net, opt, buffer, rng, m, loop_state, game)
            last = m
            log(_one_line(m))
            if stop_at_goal and spec.goal and spec.goal(m):
                log(f"goal reached at iteration {it}")
                break
        final_path = run_dir / "final.json"
        done = json.loads(final_path.read_text()).get("iteration") if final_path.exists() else None
        if cfg.final_steps and loop_state["iteration"] == cfg.iterations and done != cfg.iterations:
            last = _final_network(spec, cfg, run_dir, buffer, rng, cfg.iterations, eval_mcts, device)
            log(_one_line(last))
    finally:  # also when the run is stopped (Ctrl-C) or fails: the plots show every finished iteration
        executor.close()
        if (run_dir / "metrics.jsonl").exists():
            from qstar.learn.report import write_report
            write_report(run_dir)
    return last


def _final_network(spec: TrainingSpec, cfg: LoopConfig, run_dir: Path, buffer: ReplayBuffer, rng, it: int,
                   eval_mcts: MCTSConfig, device: str) -> dict:
    """A fresh network of ``spec.final_net`` trained from scratch on the final buffer (the whole run's last
    positions with the loop's own targets), judged like an iteration; saved as final.safetensors and
    latest.safetensors, then final.json (the commit point). Its seed and batches follow from the run's, so a
    run killed during this stage gives the same network when resumed."""
    game = spec.game
    torch.manual_seed(cfg.seed + 1)
    net = PolicyValueNet(spec.final_net or spec.net).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    bounds = [0] + [int(f * cfg.final_steps) for f, _ in FINAL_LR_STEPS] + [cfg.final_steps]
    rates = [cfg.lr] + [cfg.lr * x for _, x in FINAL_LR_STEPS]
    t0 = time.perf_counter()
    with progress_bar("final network (fresh, on the last buffer)", cfg.final_steps, "steps") as bar:
        for lo, hi, lr in zip(bounds, bounds[1:], rates):
            for group in opt.param_groups:
                group["lr"] = lr
            losses = train_steps(net, opt, buffer, hi - lo, cfg.batch_size, rng, bar)
    t_train = time.perf_counter() - t0
    m = {"iteration": it, "final": True, **losses, "steps": cfg.final_steps, "buffer": buffer.size,
         "parameters": net.num_parameters(), "seconds_train": round(t_train, 2)}
    t1 = time.perf_counter()
    if spec.ground_truth:
        m.update(spec.ground_truth(NetworkEvaluator(game, net, device=device), eval_mcts))
    m["seconds_eval"] = round(time.perf_counter() - t1, 2)
    meta = {"iteration": it, "final": 1, **variant(game)}
    save_model(run_dir / "final.safetensors", net, game.name, meta)
    save_model(run_dir / "latest.safetensors", net, game.name, meta)
    atomic_write_json(run_dir / "final.json", m)
    return m


def _commit_iteration(run_dir: Path, it: int, net, opt, buffer, rng, m: dict, loop_state: dict, game):
    meta = {"iteration": it, **variant(game)}
    save_model(run_dir / f"model_{it:04d}.safetensors", net, game.name, meta)
    save_model(run_dir / "latest.safetensors", net, game.name, meta)
    save_torch(run_dir / f"optimizer_{it:04d}.pt", {"optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state()})
    buffer.save(run_dir / f"replay_{it:04d}.npz")
    append_jsonl(run_dir / "metrics.jsonl", m)
    prev_it = loop_state["iteration"]
    loop_state.update({"iteration": it, "elo": m.get("elo", loop_state["elo"]), "rng": rng.bit_generator.state})
    atomic_write_json(run_dir / "state.json", loop_state)  # the commit point
    for stale in (run_dir / f"optimizer_{prev_it:04d}.pt", run_dir / f"replay_{prev_it:04d}.npz"):
        stale.unlink(missing_ok=True)


def _one_line(m: dict) -> str:
    parts = [f"{'final network after iter' if m.get('final') else 'iter'} {m['iteration']}",
             f"loss {m['loss']:.3f} (p {m['policy_loss']:.3f} v {m['value_loss']:.3f})",
             *([f"{m['positions_per_second']:.0f} pos/s"] if "positions_per_second" in m else [])]
    if "elo" in m:
        parts.append(f"Elo {m['elo']:+.0f}")
    for k, v in m.items():
        if k.startswith("vs_") and isinstance(v, dict):
            parts.append(f"{k[3:]} {v['score']:.2f}")
        elif k.startswith(("mistake", "perfect", "losses_vs")):
            parts.append(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}")
    return " | ".join(parts)


def load_init(path: str | Path, game_name: str, shape: ResNetConfig) -> PolicyValueNet:
    """The checkpoint a run starts from (``TrainingSpec.init``); refuses one of another game or shape."""
    start = load_model(path, game_name)
    if start.cfg != shape:
        raise ConfigError(f"{path} does not fit this run's network: {start.cfg.differences(shape)}")
    return start


def load_run_model(run_dir: str | Path, game_name: str) -> PolicyValueNet:
    p = Path(run_dir) / "latest.safetensors"
    if not p.exists():
        raise CheckpointError(f"no latest.safetensors in {run_dir}")
    return load_model(p, game_name)
