import numpy as np
import pytest
import torch

from qstar.core.errors import CheckpointError
from qstar.learn.replay import ReplayBuffer
from qstar.learn.resnet import PolicyValueNet, ResNetConfig
from qstar.learn.trainer import loss_terms, train_steps


def fixed_buffer(n=64):
    rng = np.random.default_rng(0)
    buf = ReplayBuffer((2, 6, 7), 7, 1000)
    obs = (rng.random((n, 2, 6, 7)) < 0.3).astype(np.float32)
    pi = rng.dirichlet(np.ones(7), size=n).astype(np.float32)
    z = rng.choice([-1.0, 0.0, 1.0], size=n).astype(np.float32)
    buf.add(obs, pi, z)
    return buf


def test_loss_decreases_and_every_parameter_changes():
    torch.manual_seed(0)
    net = PolicyValueNet(ResNetConfig(2, 6, 7, 7, blocks=1, channels=16))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    buf = fixed_buffer()
    obs, pi, z = (torch.from_numpy(x) for x in (buf.obs[:64], buf.pi[:64], buf.z[:64]))
    net.eval()
    with torch.no_grad():
        l0 = sum(t.item() for t in loss_terms(net, obs, pi, z))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    train_steps(net, opt, buf, 150, 32, np.random.default_rng(0))
    net.eval()
    with torch.no_grad():
        l1 = sum(t.item() for t in loss_terms(net, obs, pi, z))
    assert l1 < 0.7 * l0
    for k, v in net.named_parameters():
        assert not torch.equal(v, before[k]), k


def test_replay_ring_and_save_load(tmp_path):
    buf = ReplayBuffer((1,), 2, 4)
    for i in range(6):
        buf.add(np.full((1, 1), i, np.float32), np.full((1, 2), i, np.float32), np.array([i], np.float32))
    assert buf.size == 4 and sorted(buf.z.tolist()) == [2, 3, 4, 5]
    buf.save(tmp_path / "r.npz")
    other = ReplayBuffer((1,), 2, 4)
    other.load(tmp_path / "r.npz")
    assert other.count == 6 and np.array_equal(other.z, buf.z)
    other.add(np.zeros((1, 1), np.float32), np.zeros((1, 2), np.float32), np.array([9], np.float32))
    assert other.z[2] == 9  # continues the ring where it stopped
    with pytest.raises(CheckpointError, match=r"encoded as \(1,\), but the game now encodes \(2,\)"):
        ReplayBuffer((2,), 2, 4).load(tmp_path / "r.npz")  # a run of an older encoding
