"""Keep the cyclic garbage collector off the objects a hot loop did not make."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def frozen_heap():
    """Inside, the collector's passes skip every object that existed on entry (``gc.freeze``); on exit they are
    collectable again. After ``import torch`` a process holds ~170,000 tracked objects, and each full collection
    walks them all: in Connect Four self-play (hundreds of thousands of new states, each full pass ~60 ms) that
    was about 0.4 s of 16 (``qstar bench selfplay``). Objects made inside are collected as usual."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
