import torch

from qstar.learn.resnet import PolicyValueNet, ResNetConfig


def test_fused_copy_matches_and_does_not_follow_training():
    torch.manual_seed(0)
    net = PolicyValueNet(ResNetConfig(2, 6, 7, 7, blocks=2, channels=16))
    for m in net.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_()
    net.eval()
    fused = net.fused_for_inference()
    x = torch.randn(32, 2, 6, 7)
    with torch.no_grad():
        (l1, v1), (l2, v2) = net(x), fused(x)
    assert torch.allclose(l1, l2, atol=1e-4) and torch.allclose(v1, v2, atol=1e-5)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
        assert not torch.allclose(net(x)[0], fused(x)[0])
    assert net.num_parameters() == sum(p.numel() for p in net.parameters())
