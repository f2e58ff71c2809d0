"""RayExecutor on a local Ray instance (2 CPUs) with a tiny tic-tac-toe worker."""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'qstar[ray]')")

from qstar.core.errors import QstarError  # noqa: E402
from qstar.games.tictactoe import TicTacToe  # noqa: E402
from qstar.learn.executor import SelfPlayWorker  # noqa: E402
from qstar.learn.loop import LoopConfig, TrainingSpec, run_loop  # noqa: E402
from qstar.learn.ray_executor import RayExecutor, chunk_plan  # noqa: E402
from qstar.learn.resnet import PolicyValueNet, ResNetConfig  # noqa: E402
from qstar.learn.selfplay import SelfPlayConfig  # noqa: E402
from qstar.search import MCTSConfig  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]  # one Ray instance under --dist loadgroup

G = TicTacToe()
NET = ResNetConfig(2, 3, 3, 9, blocks=1, channels=8)
SP = SelfPlayConfig(MCTSConfig(num_simulations=4, leaves_per_step=2), parallel_games=2)

# Ray workers cannot import this test module by name: ship its classes by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


KILL_RUN = dict(n_games=8, seed=3)  # the run in which an actor is killed: 4 chunks of 2 games
KILL_PLAN = chunk_plan(KILL_RUN["n_games"], 4, KILL_RUN["seed"])


@dataclass
class LoggingWorker(SelfPlayWorker):
    """A worker that appends 'start SEED' / 'done SEED' to a file shared by all actors. The first time it is
    asked for chunk ``slow_seed`` it stalls, so that chunk is still running when the test kills its actor."""
    log_path: str = ""
    slow_seed: int = -1

    def play(self, n_games, seed, progress=lambda n=1, **kw: None):
        retry = ("start", seed) in _log(Path(self.log_path))
        _append(self.log_path, f"start {seed}")
        if seed == self.slow_seed and not retry:
            time.sleep(60)
        records = super().play(n_games, seed, progress)
        _append(self.log_path, f"done {seed}")
        return records


def _append(path: str, line: str) -> None:
    with open(path, "a") as f:
        f.write(line + "\n")


def _log(path: Path) -> list[tuple[str, int]]:
    return [(w, int(s)) for w, s in (l.split() for l in path.read_text().splitlines())] if path.exists() else []


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A local Ray with 2 CPUs and one executor (2 actors) for the tests to share: actors take seconds to start."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the local reference runs, like the actors
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    log = tmp_path_factory.mktemp("ray") / "plays.log"
    ex = RayExecutor(lambda: LoggingWorker(G, NET, SP, log_path=str(log), slow_seed=KILL_PLAN[1][1]),
                     workers=2, chunks_per_worker=2)
    yield ex, log
    ex.close()
    assert not ex._started_ray and ray.is_initialized()  # it joined the running Ray, so it leaves it running
    ray.shutdown()
    torch.set_num_threads(threads)


def _weights():
    torch.manual_seed(0)
    return PolicyValueNet(NET).state_dict()


def _same(a, b) -> bool:
    return (a.moves == b.moves and a.result == b.result and np.array_equal(a.obs, b.obs)
            and np.array_equal(a.pi, b.pi) and np.array_equal(a.z, b.z))


def _local_reference(weights, plan):
    out = []
    for n, s in plan:
        w = SelfPlayWorker(G, NET, SP)
        w.set_weights(weights)
        out += w.play(n, s)
    return out


def test_chunk_plan_is_even_and_seeded():
    plan = chunk_plan(7, 3, seed=5)
    assert [n for n, _ in plan] == [3, 2, 2]
    assert plan == chunk_plan(7, 3, seed=5) and plan != chunk_plan(7, 3, seed=6)
    assert len({s for _, s in plan}) == 3
    assert [n for n, _ in chunk_plan(2, 4, 0)] == [1, 1]  # empty chunks dropped


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(QstarError, match=r"pip install 'qstar\[ray\]'"):
        RayExecutor(lambda: SelfPlayWorker(G, NET, SP), workers=2)


def test_games_equal_a_local_run_with_the_same_chunks(shared):
    ex, _ = shared
    weights = _weights()
    reported = []
    records = ex.self_play(weights, 7, seed=11, progress=reported.append)
    assert len(records) == 7 and sorted(reported) == [1, 2, 2, 2]
    ref = _local_reference(weights, chunk_plan(7, 4, seed=11))
    assert all(_same(a, b) for a, b in zip(records, ref))
    assert len({tuple(r.moves) for r in records}) > 1  # the chunks' seeds differ


def test_a_killed_actor_is_replaced_and_only_its_chunk_replayed(shared):
    ex, log = shared
    seeds = [s for _, s in KILL_PLAN]
    mine = lambda kind: [s for w, s in _log(log) if w == kind and s in seeds]
    weights = _weights()
    killed, finished_before_kill = [], []

    def kill_after_first_result(n):
        if killed:
            return
        deadline = time.monotonic() + 30
        while seeds[1] not in mine("start") and time.monotonic() < deadline:
            time.sleep(0.05)
        finished_before_kill.extend(mine("done"))
        killed.append(ex.actors[1])
        ray.kill(ex.actors[1])  # it was handed chunk 1 first, and chunk 1 stalls

    records = ex.self_play(weights, **KILL_RUN, progress=kill_after_first_result)
    assert killed and ex.actors[1] is not killed[0]  # replaced by a fresh actor
    assert len(records) == 8
    assert all(_same(a, b) for a, b in zip(records, _local_reference(weights, KILL_PLAN)))
    starts = mine("start")
    assert sorted(starts) == sorted(seeds + [seeds[1]])  # chunk 1 re-run once, every other chunk played once
    assert seeds[0] in finished_before_kill and seeds[1] not in finished_before_kill


def test_run_loop_with_ray_executor(shared, tmp_path):
    ex, _ = shared

    class KeepOpen:  # run_loop closes its executor; the shared one stays open for the other tests
        closed = False

        def self_play(self, *args, **kw):
            return ex.self_play(*args, **kw)

        def close(self):
            self.closed = True

    cfg = LoopConfig(iterations=1, games_per_iteration=4, train_steps=2, batch_size=8, buffer_size=500,
                     eval_games=0, threads=1, seed=1, selfplay=SP)
    wrapper = KeepOpen()
    m = run_loop(TrainingSpec(G, NET), cfg, tmp_path / "run", executor=wrapper, log=lambda s: None)
    assert m["iteration"] == 1 and m["games"] == 4 and m["positions"] > 0
    assert (tmp_path / "run" / "model_0001.safetensors").exists() and wrapper.closed
