"""`gan convert`: junyanz generator files (tests/data/junyanz, made by the reference code; README there) become
gan-cli checkpoints whose translation equals the reference's outputs; synthetic state dicts are consumed key
for key; CycleGAN folders give both directions; other files are refused saying what they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_clean_error
from PIL import Image
from safetensors import safe_open
from test_junyanz_nets import CONFIGS, DATA, TOL, max_diff_to_golden
from torch import nn

from gan_cli.errors import BadInput
from gan_cli.io import checkpoint as ckpt
from gan_cli.io import images
from gan_cli.nets.junyanz import build_generator, init_weights
from gan_cli.sampling import load_model


class Translating(nn.Module):
    """What gan translate runs (LoadedModel.translate, before clamping), as a module for max_diff_to_golden."""

    def __init__(self, model, mode: str) -> None:
        super().__init__()
        self.model, self.mode = model, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.family.translate(self.model.nets, x, "AtoB", test_mode=self.mode)


@pytest.mark.parametrize("stem", sorted(CONFIGS))
def test_converted_golden_files_translate_as_the_reference(cli, tmp_path, stem):
    r = cli("convert", DATA / f"{stem}.pth", tmp_path / "g.safetensors")
    assert r.code == 0 and r.out.strip() == str(tmp_path / "g.safetensors"), r.err
    model = load_model(tmp_path / "g.safetensors")
    entry = CONFIGS[stem]
    assert (model.family.in_channels, model.family.channels) == (entry["in_ch"], entry["out_ch"])
    assert max_diff_to_golden(Translating(model, "eval"), stem, "eval") < TOL
    if "reference_pool" in torch.load(DATA / f"{stem}.out.pth", weights_only=True):
        torch.manual_seed(entry["reference_seed"])  # the reference's test.py: dropout and batch statistics
        assert max_diff_to_golden(Translating(model, None), stem, "reference") < TOL  # the file's default mode


def test_convert_records_its_source_and_translate_runs_it(cli, tmp_path):
    src = tmp_path / "latest_net_G_B.pth"
    src.write_bytes((DATA / "resnet_6blocks-batch.pth").read_bytes())
    assert cli("convert", src, tmp_path / "g.safetensors").code == 0
    meta = ckpt.read_meta(tmp_path / "g.safetensors")
    assert meta["kind"] == "generator" and meta["family"] == "pix2pix" and meta["in_channels"] == 1
    (source,) = meta["source"]["files"]
    assert source["direction"] == "BtoA" and source["file"] == src.name and len(source["sha256"]) == 64
    assert meta["options"]["test_mode"] == "reference"  # batch norm: the reference's train-mode statistics
    with safe_open(str(tmp_path / "g.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert keys == {f"G.{k}" for k in torch.load(src, weights_only=True)}  # every key, under the net's name
    arr = np.random.default_rng(0).integers(0, 256, (30, 26), dtype=np.uint8)
    Image.fromarray(arr, "L").save(tmp_path / "in.png")
    r = cli(
        "translate", "--weights", tmp_path / "g.safetensors", tmp_path / "in.png", tmp_path / "out.png", "--keep-size"
    )
    assert r.code == 0, r.err
    model = load_model(tmp_path / "g.safetensors")
    x = torch.from_numpy(np.pad(arr, ((1, 1), (1, 1)), mode="reflect")).float()[None, None] / 127.5 - 1
    torch.manual_seed(0)  # translate's default --seed (reference mode draws nothing here, but says so)
    want = images.tensor_to_uint8(model.translate(x)[0])[1:31, 1:27]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), want)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(name="resnet_9blocks", in_ch=3, out_ch=3, ngf=3, norm="instance", use_dropout=False),
        dict(name="resnet_6blocks", in_ch=1, out_ch=3, ngf=2, norm="batch", use_dropout=True),
        dict(name="unet_128", in_ch=3, out_ch=1, ngf=2, norm="batch", use_dropout=True),
        dict(name="unet_256", in_ch=3, out_ch=3, ngf=1, norm="instance", use_dropout=True),
    ],
    ids=lambda k: f"{k['name']}-{k['norm']}",
)
def test_synthetic_state_dicts_are_consumed_key_for_key(cli, tmp_path, kwargs):
    torch.manual_seed(1)
    net = build_generator(**kwargs)
    init_weights(net)
    torch.save(net.state_dict(), tmp_path / "latest_net_G.pth")
    assert cli("convert", tmp_path / "latest_net_G.pth", tmp_path / "g.safetensors").code == 0
    tensors, meta = ckpt.load(tmp_path / "g.safetensors")
    sd = net.state_dict()
    assert tensors.keys() == {f"G.{k}" for k in sd} and all(torch.equal(tensors[f"G.{k}"], v) for k, v in sd.items())
    o = meta["options"]
    assert (o["netG"], o["ngf"], o["norm"], o["no_dropout"]) == (
        kwargs["name"],
        kwargs["ngf"],
        kwargs["norm"],
        not kwargs["use_dropout"],
    )
    model = load_model(tmp_path / "g.safetensors")
    x = torch.rand(1, kwargs["in_ch"], 256, 256) * 2 - 1
    with torch.no_grad():
        want = net.eval()(x)
    assert (model.translate(x, test_mode="eval") - want.clamp(-1, 1)).abs().max() < TOL


def test_cyclegan_folder_gives_both_directions(cli, tmp_path):
    folder = tmp_path / "checkpoints" / "maps_cyclegan"
    folder.mkdir(parents=True)
    nets = {}
    for side, (i, o) in (("A", (3, 1)), ("B", (1, 3))):
        torch.manual_seed(ord(side))
        nets[side] = build_generator("resnet_6blocks", i, o, 2, "instance")
        init_weights(nets[side])
        torch.save(nets[side].state_dict(), folder / f"latest_net_G_{side}.pth")
        torch.save(nets[side].state_dict(), folder / f"5_net_G_{side}.pth")
    torch.save(nn.Conv2d(1, 1, 1).state_dict(), folder / "latest_net_D_A.pth")
    r = cli("convert", folder, tmp_path / "maps.safetensors")
    assert r.code == 0, r.err
    model = load_model(tmp_path / "maps.safetensors")
    assert model.family.name == "cyclegan" and model.meta["options"]["lambda_identity"] == 0.0
    for direction, side, c in (("AtoB", "A", 3), ("BtoA", "B", 1)):
        x = torch.rand(2, c, 32, 32) * 2 - 1
        with torch.no_grad():
            want = nets[side].eval()(x)
        assert (model.translate(x, direction) - want).abs().max() < TOL
    files = [s["file"] for s in model.meta["source"]["files"]]
    assert files == ["latest_net_G_A.pth", "latest_net_G_B.pth"]
    assert_clean_error(cli("convert", folder, tmp_path / "x.safetensors", "--direction", "AtoB"), 2, "both directions")


def test_wrong_files_are_refused_saying_what_they_are(cli, tmp_path):
    out = tmp_path / "x.safetensors"
    assert_clean_error(cli("convert", DATA / "D-basic-batch.pth", out), 2, "NLayerDiscriminator (PatchGAN) with 3")
    (tmp_path / "model.ckpt").write_bytes(b"?")
    assert_clean_error(cli("convert", tmp_path / "model.ckpt", out), 2, "cannot tell its format; give --from")
    assert_clean_error(cli("convert", tmp_path / "model.ckpt", out, "--from", "caffe"), 2, "unknown format")
    assert_clean_error(cli("convert", tmp_path / "model.ckpt", out, "--from", "junyanz"), 2, "not a readable PyTorch")
    assert_clean_error(cli("convert", DATA / "unet_128-instance.pth", tmp_path / "x.pt"), 2, ".safetensors")
    torch.save(build_generator("resnet_4blocks", ngf=1).state_dict(), tmp_path / "r4.pth")
    assert_clean_error(cli("convert", tmp_path / "r4.pth", out), 2, "a resnet_4blocks generator: gan-cli's pix2pix")
    src = tmp_path / "latest_net_G_A.pth"
    src.write_bytes((DATA / "resnet_6blocks-batch.pth").read_bytes())
    assert_clean_error(cli("convert", src, out, "--direction", "BtoA"), 2, "maps A to B")
    assert not out.exists()


@pytest.mark.parametrize(
    "name, config, directions",
    [("ugatit_light_params.pt", "ugatit_light", ("AtoB", "BtoA")), ("p2c_light_params.pt", "p2c_light", ("AtoB",))],
)
def test_ugatit_and_photo2cartoon_checkpoints_convert_and_translate_as_the_reference(
    cli, tmp_path, name, config, directions
):
    from safetensors.torch import load_file

    from gan_cli.sampling import load_model

    data = Path(__file__).parent / "data" / "ugatit"
    dst = tmp_path / "c.safetensors"
    r = cli("convert", data / name, dst)
    assert r.code == 0, r.err
    golden = load_file(str(data / "expected.safetensors"))
    x = golden[f"{config}.input"].float() / 127.5 - 1
    model = load_model(dst)
    for direction, net in zip(directions, ("genA2B", "genB2A")):
        want = golden[f"{config}.{net}.out"].clamp(-1, 1)
        assert (model.translate(x, direction) - want).abs().max() < 1e-5
    if directions == ("AtoB",):  # photo2cartoon's release holds genA2B only
        with pytest.raises(BadInput, match="no generator for BtoA"):
            model.translate(x, "BtoA")
