import pytest
import torch

from ganforge.core.errors import ConfigError
from ganforge.nets.config import DataShape, ModelConfig, NetConfig
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.nets.shapes import check_image_size, conv_out, conv_transpose_out


def test_conv_arithmetic():
    assert conv_out(64, 4, 2, 1) == 32
    assert conv_out(4, 4, 1, 0) == 1
    assert conv_out(28, 3, 1, 1) == 28
    assert conv_transpose_out(1, 4, 1, 0) == 4
    assert conv_transpose_out(4, 4, 2, 1) == 8
    assert conv_transpose_out(7, 3, 2, 1, output_padding=1) == 14


def test_image_size_check():
    assert check_image_size(16) == 2 and check_image_size(64) == 4 and check_image_size(128) == 5
    for bad in (8, 20, 28, 256):
        with pytest.raises(ConfigError, match=r"power-of-two image size \(16, 32, 64, 128\); got"):
            check_image_size(bad)


def dcgan(width=8, **kw):
    return ModelConfig(100, NetConfig("dcgan", width, **kw), NetConfig("dcgan", width, **kw))


@pytest.mark.parametrize("size", [16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size, channels):
    shape = DataShape("images", channels, size)
    g, d = build_generator(dcgan(), shape), build_discriminator(dcgan(), shape)
    x = g(torch.randn(2, 100))
    assert x.shape == (2, channels, size, size) and x.abs().max() <= 1.0
    assert d(x).shape == (2,)


def test_dcgan_generator_halves_channels_from_4x4():
    g = build_generator(dcgan(width=16), DataShape("images", 3, 64))
    convs = [m for m in g.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [128, 64, 32, 16, 3]
    bns = [m for m in g.net if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 4  # every layer but the output


def test_dcgan_discriminator_first_layer_has_no_norm():
    d = build_discriminator(dcgan(), DataShape("images", 3, 32))
    assert isinstance(d.net[0], torch.nn.Conv2d) and isinstance(d.net[1], torch.nn.LeakyReLU)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in d.net) == 2


def test_dcgan_init_is_normal_002():
    g = build_generator(dcgan(width=64), DataShape("images", 3, 64))
    assert g.net[0].weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_mlp_shapes():
    shape = DataShape("images", 1, 28)
    model = ModelConfig()
    g, d = build_generator(model, shape), build_discriminator(model, shape)
    assert [m.out_features for m in g.body if isinstance(m, torch.nn.Linear)] == [128, 256, 512, 1024]
    x = g(torch.randn(5, 100))
    assert x.shape == (5, 1, 28, 28) and d(x).shape == (5,)


def test_toy_shapes():
    shape = DataShape("points", dim=2)
    model = ModelConfig(10, NetConfig("toy"), NetConfig("toy"))
    g, d = build_generator(model, shape), build_discriminator(model, shape)
    assert g(torch.randn(7, 10)).shape == (7, 2) and d(torch.randn(7, 2)).shape == (7,)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("mode", ["onehot", "embedding"])
def test_conditional_label_plumbing(arch, mode):
    shape = DataShape("images", 1, 32, classes=10)
    net = NetConfig(arch, 8, label_mode=mode)
    model = ModelConfig(16, net, net)
    torch.manual_seed(0)
    g, d = build_generator(model, shape).eval(), build_discriminator(model, shape).eval()
    z = torch.randn(1, 16).repeat(10, 1)
    labels = torch.arange(10)
    x = g(z, labels)
    assert x.shape == (10, 1, 32, 32)
    assert not torch.allclose(x[0], x[1])  # same z, other label: another image
    scores = d(x[:1].repeat(10, 1, 1, 1), labels)
    assert scores.shape == (10,) and scores.unique().numel() > 1  # D's score depends on the label
    with pytest.raises(ValueError, match="conditional"):
        g(z)
    with pytest.raises(ValueError, match="conditional"):
        d(x)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_projection_discriminator_adds_class_embedding_dot_features(arch):
    shape = DataShape("images", 1, 32, classes=10)
    model = ModelConfig(16, NetConfig(arch, 8), NetConfig(arch, 8, label_mode="projection"))
    d = build_discriminator(model, shape).eval()
    x, labels = torch.randn(10, 1, 32, 32), torch.arange(10)
    h = d.features(x, labels)
    expected = d.head(h).squeeze(1) + (d.projection.weight[labels] * h).sum(1)
    assert torch.allclose(d(x, labels), expected)
    assert d(x[:1].repeat(10, 1, 1, 1), labels).unique().numel() > 1  # the label changes the score
    with pytest.raises(ValueError, match="conditional"):
        d(x)


def test_projection_is_for_discriminators_only():
    model = ModelConfig(16, NetConfig("mlp", label_mode="projection"), NetConfig("mlp"))
    with pytest.raises(ConfigError, match=r"projection.*discriminators"):
        build_generator(model, DataShape("images", 1, 28, classes=10))


def test_unconditional_nets_refuse_labels():
    g = build_generator(ModelConfig(), DataShape("images", 1, 28))
    with pytest.raises(ValueError, match="unconditional"):
        g(torch.randn(2, 100), torch.tensor([0, 1]))


def test_unknown_arch_lists_the_known_ones():
    with pytest.raises(
        ConfigError, match=r"unknown generator arch 'resnet'; known generator archs: dcgan, mlp, progan, toy"
    ):
        build_generator(ModelConfig(generator=NetConfig("resnet")), DataShape("images", 1, 28))


def test_arch_for_the_wrong_kind_of_data():
    with pytest.raises(ConfigError, match="arch 'dcgan' models images, but the dataset holds points"):
        build_generator(dcgan(), DataShape("points", dim=2))
    with pytest.raises(ConfigError, match="power-of-two"):
        build_discriminator(dcgan(), DataShape("images", 1, 28))


@pytest.mark.parametrize(("arch", "classes"), [("dcgan", 0), ("dcgan", 10), ("mlp", 0)])
def test_packing_judges_packs_of_samples_for_dense_and_convolutional_discriminators(arch, classes):
    """PacGAN: one logit per pack of `pack` consecutive samples, and each depends on every
    sample of its pack (the DCGAN stacks a pack as channels)."""
    shape = DataShape("images", channels=1, size=32, classes=classes)
    d = build_discriminator(ModelConfig(16, NetConfig(arch, 8), NetConfig(arch, 8, pack=4)), shape).eval()
    x = torch.randn(8, 1, 32, 32)
    labels = torch.arange(8) % classes if classes else None
    out = d(x, labels)
    assert out.shape == (2,)
    moved = x.clone()
    moved[3] += 1.0  # the last sample of the first pack
    again = d(moved, labels)
    assert again[0] != out[0] and again[1] == out[1]
    with pytest.raises(ValueError, match="packs of 4"):
        d(x[:6], labels[:6] if labels is not None else None)
