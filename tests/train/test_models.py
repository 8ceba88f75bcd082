import pytest

torch = pytest.importorskip("torch")

from agegender_edge.train.models.complexity import count_macs  # noqa: E402
from agegender_edge.train.models.registry import create_model, get_arch, list_models  # noqa: E402


def test_registry_lists_both_architectures():
    assert {"levi_hassner", "edge_resnet"} <= set(list_models())
    with pytest.raises(KeyError, match="unknown model"):
        get_arch("nope")


def test_levi_hassner_is_caffe_faithful():
    net = create_model("levi_hassner", 8).eval()
    assert get_arch("levi_hassner").input.size == (227, 227)
    feats = net._modules["features"](torch.zeros(1, 3, 227, 227))   # the conv trunk (features() is fc7)
    assert feats.shape == (1, 384, 7, 7)  # ceil-mode pooling as in Caffe: 18,816 inputs to fc6
    assert net.features(torch.zeros(1, 3, 227, 227)).shape == (1, 512)
    assert net.fc[1].in_features == 18816
    assert count_macs(net, (227, 227)) == 709_254_144  # 0.709 GMAC / face
    g, a = net(torch.zeros(3, 3, 227, 227))
    assert g.shape == (3, 2) and a.shape == (3, 8)


def test_edge_network_is_at_most_a_fifth_of_levi_hassner():
    lh = count_macs(create_model("levi_hassner", 8), (227, 227))
    edge = create_model("edge_resnet", 101).eval()
    size = get_arch("edge_resnet").input.size
    assert count_macs(edge, size) <= lh / 5
    g, a = edge(torch.zeros(2, 3, *size))
    assert g.shape == (2, 2) and a.shape == (2, 101)
