#!/usr/bin/env bash
# On a machine with a CUDA GPU and torch/transformers already installed (no venv needed): the CUDA tests (the
# networks and language models give the CPU's answers there, and runs trained there resume on the CPU), then the
# same work timed on the CPU and on the GPU, side by side. Figures go to stdout and to ${OUT:-/tmp/gpu_check}.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu_check}; mkdir -p "$out"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
q() { python3 -m qstar.cli "$@"; }
nvidia-smi -L; nproc
python3 -c "import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__, torch.cuda.get_device_name())"
python3 -m pytest -q -p no:cacheprovider -rs -n 4 --dist loadgroup tests/learn/test_loop.py tests/reasoning/test_loop.py \
    tests/reasoning/test_models.py 2>&1 | tee "$out/tests.log" | tail -15
for dev in cpu cuda; do  # one Connect Four iteration (128 games, 300 steps): self-play and training seconds
    timeout 200 python3 -m qstar.cli train connect4 --iterations 1 --games 128 --eval-games 0 --threads 8 \
        --run-dir "/tmp/c4-$dev" --device $dev --json 2>/dev/null | tail -1 | tee "$out/c4-$dev.json"
done
for dev in cpu cuda; do  # the reasoning models: greedy and MCTS over every legal step on 30 test puzzles
    timeout 100 python3 -m qstar.cli eval game24 --limit 30 --methods "greedy,MCTS 64 sims every" --device $dev \
        --json 2>/dev/null | tail -1 | tee "$out/g24-$dev.json"
done
