"""pix2pix / CycleGAN networks and the junyanz checkpoint converter, against files the reference code made.

tests/data/junyanz/README.md says how the golden files were produced (reference repository, commit, seeds).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from gan_cli.convert.junyanz import convert_junyanz
from gan_cli.errors import BadInput
from gan_cli.nets.junyanz import (
    build_discriminator,
    build_generator,
    init_weights,
    required_multiple,
    set_test_mode,
)

DATA = Path(__file__).parent / "data" / "junyanz"
MANIFEST = json.loads((DATA / "manifest.json").read_text())
CONFIGS = MANIFEST["configs"]
TOL = 1e-5


def golden_input(n: int, c: int, h: int, w: int) -> torch.Tensor:
    """The inputs the golden outputs were made from: smooth patterns in [-0.9, 0.9], no random numbers."""
    i = torch.arange(h, dtype=torch.float64).view(1, 1, h, 1)
    j = torch.arange(w, dtype=torch.float64).view(1, 1, 1, w)
    k = torch.arange(c, dtype=torch.float64).view(1, c, 1, 1)
    b = torch.arange(n, dtype=torch.float64).view(n, 1, 1, 1)
    return torch.sin(0.37 * i + 0.23 * j * (k + 1) + 1.3 * b + 0.5 * k).mul(0.9).to(torch.float32)


def reference_kwargs(entry: dict) -> dict:
    keys = ("in_ch", "out_ch", "ngf", "norm", "use_dropout")
    return {"name": entry["netG"], **{k: entry[k] for k in keys}}


def load_golden(stem: str) -> dict[str, torch.Tensor]:
    return torch.load(DATA / f"{stem}.pth", map_location="cpu", weights_only=True)


def max_diff_to_golden(net: nn.Module, stem: str, mode: str) -> float:
    """Largest |ours - reference| over what the golden file keeps of the output (all of it, or pool + crop + sums)."""
    entry, gold = CONFIGS[stem], torch.load(DATA / f"{stem}.out.pth", weights_only=True)
    with torch.no_grad():
        y = net(golden_input(*entry["input_shape"]))
    assert list(y.shape) == entry["output_shape"]
    if mode in gold:
        return (y - gold[mode]).abs().max().item()
    pooled = nn.functional.avg_pool2d(y.double(), entry["pool"]).float()
    return max(
        (pooled - gold[f"{mode}_pool"]).abs().max().item(),
        (y[:, :, 40:72, 24:56] - gold[f"{mode}_crop"]).abs().max().item(),
        (y.double().sum(dim=(0, 2, 3)) - gold[f"{mode}_sum"]).abs().max().item() / y[0, 0].numel(),
    )


@pytest.mark.parametrize("stem", sorted(CONFIGS))
def test_generator_keys_and_shapes_are_the_references(stem):
    ours = build_generator(**reference_kwargs(CONFIGS[stem])).state_dict()
    ref = load_golden(stem)
    assert [(k, tuple(v.shape)) for k, v in ours.items()] == [(k, tuple(v.shape)) for k, v in ref.items()]


@pytest.mark.parametrize(
    "stem,name,n_layers,norm",
    [
        ("D-basic-batch", "basic", 3, "batch"),
        ("D-n_layers4-instance", "n_layers", 4, "instance"),
        ("D-pixel-batch", "pixel", 3, "batch"),
    ],
)
def test_discriminator_keys_and_shapes_are_the_references(stem, name, n_layers, norm):
    ours = build_discriminator(name, 3, ndf=2, n_layers=n_layers, norm=norm).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in load_golden(stem).items()}


@pytest.mark.parametrize("stem", sorted(CONFIGS))
def test_init_weights_draws_the_references_weights(stem):
    """Same seed, same layer creation order, same init: the very weights the reference's define_G drew."""
    torch.manual_seed(CONFIGS[stem]["seed_init"])
    net = build_generator(**reference_kwargs(CONFIGS[stem]))
    init_weights(net)
    want = json.loads((DATA / "init_sums.json").read_text())[stem]
    got = {k: v.double().sum().item() for k, v in net.state_dict().items() if v.is_floating_point()}
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1e-9), k


@pytest.mark.parametrize("stem", sorted(CONFIGS))
def test_converted_reference_file_gives_the_references_output(stem):
    conv = convert_junyanz(DATA / f"{stem}.pth")
    assert conv.net_kwargs == {**reference_kwargs(CONFIGS[stem]), "use_dropout": conv.net_kwargs["use_dropout"]}
    ref = load_golden(stem)
    assert list(conv.tensors) == list(ref)  # every key used, none added
    assert all(torch.equal(conv.tensors[k], ref[k]) for k in ref)
    net = build_generator(**conv.net_kwargs)
    net.load_state_dict(conv.tensors)
    assert max_diff_to_golden(set_test_mode(net, "eval"), stem, "eval") < TOL


@pytest.mark.parametrize("stem", [s for s in sorted(CONFIGS) if "unet" in s and CONFIGS[s]["use_dropout"]])
def test_reference_test_mode_matches_the_references_test_py(stem):
    """The reference's test.py without --eval runs in train mode: dropout, batch statistics (same seed, same masks)."""
    conv = convert_junyanz(DATA / f"{stem}.pth")
    net = build_generator(**conv.net_kwargs)
    net.load_state_dict(conv.tensors)
    set_test_mode(net, "reference")
    torch.manual_seed(CONFIGS[stem]["reference_seed"])
    assert max_diff_to_golden(net, stem, "reference") < TOL


def test_dropout_is_read_from_resnet_files_and_assumed_for_unets():
    assert convert_junyanz(DATA / "resnet_6blocks-instance-dropout.pth").net_kwargs["use_dropout"] is True
    conv = convert_junyanz(DATA / "resnet_9blocks-batch.pth")
    assert conv.net_kwargs["use_dropout"] is False and conv.source["dropout"] == "checkpoint"
    conv = convert_junyanz(DATA / "unet_128-instance.pth")  # made without dropout: a U-Net file cannot say
    assert conv.net_kwargs["use_dropout"] is True and conv.source["dropout"] == "assumed"


def test_old_checkpoint_with_instance_norm_statistics():
    """A file from the June 2018 reference, whose InstanceNorm tracked running statistics: those keys are dropped,
    as the reference's own loader drops them, and the output is what today's reference makes of the file."""
    conv = convert_junyanz(DATA / "old2018-resnet_6blocks-instance.pth")
    assert conv.source["dropped_keys"] == MANIFEST["old2018"]["dropped"] == 51
    assert conv.net_kwargs["norm"] == "instance"
    net = build_generator(**conv.net_kwargs)
    net.load_state_dict(conv.tensors)
    with torch.no_grad():
        y = set_test_mode(net, "eval")(golden_input(*MANIFEST["old2018"]["input_shape"]))
    gold = torch.load(DATA / "old2018-resnet_6blocks-instance.out.pth", weights_only=True)["eval"]
    assert (y - gold).abs().max().item() < TOL


SYNTHETIC = [
    dict(name="resnet_9blocks", in_ch=3, out_ch=3, ngf=8, norm="instance", use_dropout=False),
    dict(name="resnet_6blocks", in_ch=1, out_ch=3, ngf=4, norm="batch", use_dropout=True),
    dict(name="resnet_3blocks", in_ch=4, out_ch=2, ngf=2, norm="none", use_dropout=False),
    dict(name="unet_128", in_ch=4, out_ch=2, ngf=3, norm="batch", use_dropout=True),
    dict(name="unet_256", in_ch=3, out_ch=1, ngf=2, norm="instance", use_dropout=True),
    dict(name="unet_64", in_ch=1, out_ch=1, ngf=1, norm="none", use_dropout=True),
]


@pytest.mark.parametrize("kwargs", SYNTHETIC, ids=lambda k: f"{k['name']}-{k['norm']}")
def test_detects_architecture_norm_widths_and_channels(tmp_path, kwargs):
    sd = build_generator(**kwargs).state_dict()
    torch.save(sd, tmp_path / "latest_net_G.pth")
    conv = convert_junyanz(tmp_path / "latest_net_G.pth")
    assert conv.net_kwargs == kwargs
    assert json.loads(json.dumps(conv.net_kwargs)) == kwargs
    assert conv.family == ("pix2pix" if kwargs["name"].startswith("unet") else "cyclegan")
    assert list(conv.tensors) == list(sd)


def test_dataparallel_prefix_and_legacy_format(tmp_path):
    ref = load_golden("resnet_9blocks-batch")
    torch.save({f"module.{k}": v for k, v in ref.items()}, tmp_path / "a.pth", _use_new_zipfile_serialization=False)
    conv = convert_junyanz(tmp_path / "a.pth")
    assert list(conv.tensors) == list(ref) and conv.net_kwargs["name"] == "resnet_9blocks"


def test_missing_batchnorm_counters_are_filled(tmp_path):
    """Files from before PyTorch 0.4.1 have no num_batches_tracked; the state dict must still load strictly."""
    ref = load_golden("unet_128-batch-dropout")
    torch.save({k: v for k, v in ref.items() if not k.endswith("num_batches_tracked")}, tmp_path / "g.pth")
    conv = convert_junyanz(tmp_path / "g.pth")
    build_generator(**conv.net_kwargs).load_state_dict(conv.tensors)
    assert conv.tensors["model.model.1.model.2.num_batches_tracked"].item() == 0


@pytest.mark.parametrize(
    "stem,words",
    [
        ("D-basic-batch", "NLayerDiscriminator (PatchGAN) with 3 layers, ndf 2"),
        ("D-n_layers4-instance", "NLayerDiscriminator (PatchGAN) with 4 layers"),
        ("D-pixel-batch", "PixelDiscriminator"),
    ],
)
def test_discriminator_files_are_refused_saying_what_they_are(stem, words):
    with pytest.raises(BadInput, match=r"give a generator file") as e:
        convert_junyanz(DATA / f"{stem}.pth")
    assert words in str(e.value)


def test_other_files_are_refused(tmp_path):
    cases = {
        "stylegan.pth": {"mapping.fc0.weight": torch.zeros(2, 2), "synthesis.b4.const": torch.zeros(2, 4, 4)},
        "random.pth": {"encoder.weight": torch.zeros(3, 3)},
        "train.pth": {"g_ema": {"w": torch.zeros(1)}, "d": {"w": torch.zeros(1)}},
        "list.pth": [torch.zeros(1)],
    }
    for name, obj in cases.items():
        torch.save(obj, tmp_path / name)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    torch.save(nn.Conv2d(1, 1, 1), tmp_path / "whole.pth")
    expect = {
        "stylegan.pth": "StyleGAN",
        "random.pth": "not a pix2pix/CycleGAN generator (1 tensors, first keys encoder.weight)",
        "train.pth": "a dict of d, g_ema rather than one network's state dict",
        "list.pth": "holds a list, not a state dict",
        "junk.pth": "not a readable PyTorch .pth file",
        "whole.pth": "(it holds a torch.nn.modules.conv.Conv2d): a whole pickled model is refused",
        "absent.pth": "no such file",
    }
    for name, words in expect.items():
        with pytest.raises(BadInput) as e:
            convert_junyanz(tmp_path / name)
        assert words in str(e.value), (name, str(e.value))


def test_leftover_missing_and_misshaped_keys_are_named(tmp_path):
    ref = load_golden("resnet_6blocks-batch")
    variants = {
        "extra": (
            {**ref, "model.10.conv_block.9.weight": torch.zeros(1)},
            "1 unused keys (e.g. model.10.conv_block.9.weight)",
        ),
        "missing": ({k: v for k, v in ref.items() if k != "model.23.bias"}, "1 missing (e.g. model.23.bias)"),
        "shape": ({**ref, "model.4.weight": torch.zeros(4, 2, 5, 5)}, "model.4.weight has shape (4, 2, 5, 5)"),
    }
    for name, (sd, words) in variants.items():
        torch.save(sd, tmp_path / f"{name}.pth")
        with pytest.raises(BadInput) as e:
            convert_junyanz(tmp_path / f"{name}.pth")
        assert words in str(e.value) and "resnet_6blocks generator (batch norm, ngf 2, 1->3 channels)" in str(e.value)


def test_direction_from_the_file_name_or_the_caller(tmp_path):
    for name in ("latest_net_G_A.pth", "latest_net_G_B.pth", "200_net_G.pth"):
        shutil.copy(DATA / "resnet_6blocks-batch.pth", tmp_path / name)
    assert convert_junyanz(tmp_path / "latest_net_G_A.pth").source["direction"] == "AtoB"
    assert convert_junyanz(tmp_path / "latest_net_G_B.pth").source["direction"] == "BtoA"
    assert convert_junyanz(tmp_path / "200_net_G.pth").source["direction"] is None
    conv = convert_junyanz(tmp_path / "200_net_G.pth", direction="BtoA", family="pix2pix")
    assert conv.source["direction"] == "BtoA" and conv.family == "pix2pix"
    assert len(conv.source["sha256"]) == 64 and conv.source["file"] == "200_net_G.pth"
    with pytest.raises(BadInput, match="maps A to B; for BtoA give \\*_net_G_B.pth"):
        convert_junyanz(tmp_path / "latest_net_G_A.pth", direction="BtoA")
    with pytest.raises(BadInput, match="AtoB or BtoA"):
        convert_junyanz(tmp_path / "200_net_G.pth", direction="sideways")


def test_input_sizes_and_required_multiple():
    """ResNets round odd sizes up to a multiple of 4 (the golden resnet_6blocks-batch file checks 30 -> 32 against
    the reference); U-Nets fail on sizes that are not multiples of 2**num_downs."""
    assert required_multiple({"name": "resnet_9blocks"}) == required_multiple({"name": "resnet_6blocks"}) == 4
    assert required_multiple({"name": "unet_256"}) == 256 and required_multiple({"name": "unet_128"}) == 128
    assert CONFIGS["resnet_6blocks-batch"]["input_shape"][-1] == 30
    assert CONFIGS["resnet_6blocks-batch"]["output_shape"][-1] == 32
    resnet = build_generator("resnet_6blocks", ngf=1).eval()
    unet = build_generator("unet_128", ngf=1, norm="instance").eval()
    with torch.no_grad():
        assert resnet(torch.zeros(1, 3, 21, 36)).shape[-2:] == (24, 36)
        assert unet(torch.zeros(1, 3, 128, 256)).shape[-2:] == (128, 256)
        with pytest.raises(RuntimeError):
            unet(torch.zeros(1, 3, 128, 192))
    with pytest.raises(ValueError):
        required_multiple({"name": "unet_100"})


def test_test_modes():
    net = build_generator("unet_128", ngf=1, norm="batch", use_dropout=True)
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 2  # num_downs - 5 middle levels
    set_test_mode(net, "eval")
    assert not any(m.training for m in net.modules())
    set_test_mode(net, "dropout")
    assert {type(m) for m in net.modules() if m.training} == {nn.Dropout}
    set_test_mode(net, "reference")
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError):
        set_test_mode(net, "test")
