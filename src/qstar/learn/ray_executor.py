"""Self-play on Ray actors: the same ``SelfPlayWorker`` as the local executor, one per actor, on a machine or a cluster.

Per ``self_play`` call the learner puts the weights in the object store once (one reference shared by every
actor), splits the games into chunks with seeds drawn from the call's seed, gives each idle actor a chunk and
collects chunks as they finish. An actor that dies is replaced by a fresh one, which re-plays only the chunk
the dead actor held; chunks already returned are kept. The result is in chunk order and depends only on
(weights, n_games, seed, number of chunks), never on which actor ran what or on failures along the way.

Needs the ``ray`` extra: ``pip install 'qstar[ray]'``.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import torch

from qstar.core.errors import QstarError, check
from qstar.learn.executor import SelfPlayWorker
from qstar.learn.selfplay import GameRecord


def chunk_plan(n_games: int, n_chunks: int, seed: int) -> list[tuple[int, int]]:
    """(games, seed) per chunk: sizes as even as possible, seeds spawned from ``seed``.

    ``chunk_plan(5, 2, 0)`` -> ``[(3, s0), (2, s1)]``; chunks of 0 games are dropped.
    """
    sizes = [len(a) for a in np.array_split(np.arange(n_games), n_chunks)]
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n_chunks)]
    return [(n, s) for n, s in zip(sizes, seeds) if n > 0]


def _import_ray():
    try:
        import ray
    except ImportError as e:
        raise QstarError("the Ray backend needs the ray extra: pip install 'qstar[ray]'") from e
    return ray


@functools.cache
def _actor_class():
    ray = _import_ray()

    @ray.remote(num_cpus=1)
    class SelfPlayActor:
        """One ``SelfPlayWorker`` in a Ray worker process, on one torch thread."""

        def __init__(self, make_worker: Callable[[], SelfPlayWorker]):
            torch.set_num_threads(1)
            self.worker = make_worker()

        def play(self, weights: dict[str, torch.Tensor], n_games: int, seed: int) -> list[GameRecord]:
            # Weights are set for every chunk (this also clears the evaluator cache), so a chunk's games do
            # not depend on which chunks the actor played before.
            self.worker.set_weights(weights)
            return self.worker.play(n_games, seed)

    return SelfPlayActor


class RayExecutor:
    """Runs ``workers`` self-play actors; see the module docstring.

    ``address``: a running Ray cluster (``"auto"``, ``"ray://host:10001"``, ...); None starts a local Ray with
    ``workers`` CPUs unless Ray is already initialised in this process. ``chunks_per_worker``: chunks per
    actor and call; more chunks balance load better and lose less work when an actor dies, fewer keep
    each network batch full (a chunk plays ``parallel_games`` at a time). ``max_restarts``: actor deaths
    tolerated within one call before giving up.
    """

    def __init__(self, make_worker: Callable[[], SelfPlayWorker], workers: int, address: str | None = None,
                 chunks_per_worker: int = 1, max_restarts: int | None = None):
        check(workers >= 1, f"workers must be >= 1, got {workers}")
        check(chunks_per_worker >= 1, f"chunks_per_worker must be >= 1, got {chunks_per_worker}")
        self._ray = ray = _import_ray()
        self.make_worker = make_worker
        self.workers = workers
        self.chunks_per_worker = chunks_per_worker
        self.max_restarts = 2 * workers if max_restarts is None else max_restarts
        self._started_ray = False
        if not ray.is_initialized():
            if address is None:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
            self._started_ray = True
        self.actors = [self._new_actor() for _ in range(workers)]

    def _new_actor(self):
        return _actor_class().remote(self.make_worker)

    def self_play(self, weights, n_games, seed, progress=lambda n=1, **kw: None) -> list[GameRecord]:
        ray = self._ray
        weights_ref = ray.put({k: v.detach().cpu() for k, v in weights.items()})
        plan = chunk_plan(n_games, self.workers * self.chunks_per_worker, seed)
        todo = list(range(len(plan)))[::-1]  # chunk indices, next one last
        done: dict[int, list[GameRecord]] = {}
        running: dict = {}  # ObjectRef -> (chunk index, actor index)
        restarts = 0

        def submit(actor_i: int) -> None:
            if todo:
                c = todo.pop()
                running[self.actors[actor_i].play.remote(weights_ref, *plan[c])] = (c, actor_i)

        for i in range(len(self.actors)):
            submit(i)
        while running:
            [ref], _ = ray.wait(list(running), num_returns=1)
            c, actor_i = running.pop(ref)
            try:
                records = ray.get(ref)
            except ray.exceptions.RayActorError as e:  # ActorDiedError and friends; a bug in play() is a RayTaskError
                restarts += 1
                if restarts > self.max_restarts:
                    raise QstarError(f"{restarts} self-play actors died in one call (max_restarts="
                                     f"{self.max_restarts}); last error: {e}") from e
                ray.kill(self.actors[actor_i])
                self.actors[actor_i] = self._new_actor()
                todo.append(c)  # re-run next, on the fresh actor
                submit(actor_i)
                continue
            done[c] = records
            submit(actor_i)
            progress(len(records))
        assert len(done) == len(plan)
        return [r for c in range(len(plan)) for r in done[c]]

    def close(self) -> None:
        ray = self._ray
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
