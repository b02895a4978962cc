"""U-GAT-IT and photo2cartoon nets and the checkpoint converter, against golden files made by the
official code (tests/data/ugatit/README.md says how): same keys, same outputs to 1e-5."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA
from PIL import Image
from safetensors.torch import load_file

from gan_cli.convert.ugatit import build_generator, convert_ugatit
from gan_cli.errors import BadInput
from gan_cli.nets import photo2cartoon, ugatit

DATA = Path(__file__).parent / "data" / "ugatit"
ATOL = 1e-5


@pytest.fixture(scope="module")
def golden() -> dict[str, torch.Tensor]:
    return load_file(DATA / "expected.safetensors")


def _ref(name: str) -> dict[str, dict[str, torch.Tensor]]:
    return torch.load(DATA / f"{name}_params.pt", map_location="cpu", weights_only=True)


def _as_input(img: torch.Tensor) -> torch.Tensor:
    return img.float() / 127.5 - 1


def _keys(sd: dict[str, torch.Tensor]) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in sd.items()]


def _max_diff(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...]) -> float:
    assert [x.shape for x in a] == [x.shape for x in b]
    return max((x - y).abs().max().item() for x, y in zip(a, b))


EXPECTED_CONFIG = {
    "ugatit_full": ("ugatit", dict(input_nc=3, output_nc=3, ngf=4, n_blocks=2, img_size=16, light=False)),
    "ugatit_light": ("ugatit", dict(input_nc=3, output_nc=3, ngf=4, n_blocks=1, img_size=256, light=True)),
    "p2c_light": ("photo2cartoon", dict(ngf=4, img_size=256, light=True)),
}
GENERATOR_CASES = [
    ("ugatit_full", "genA2B"),
    ("ugatit_full", "genB2A"),
    ("ugatit_light", "genA2B"),
    ("ugatit_light", "genB2A"),
    ("p2c_light", "genA2B"),
]


@pytest.mark.parametrize("name,which", GENERATOR_CASES)
def test_converted_generator_matches_reference_outputs(golden, name, which):
    conv = convert_ugatit(DATA / f"{name}_params.pt", which)
    family, kwargs = EXPECTED_CONFIG[name]
    assert (conv.family, conv.net_kwargs) == (family, kwargs)
    assert _keys(conv.tensors) == _keys(_ref(name)[which])  # every key of that generator, in order
    net = build_generator(conv)
    with torch.no_grad():
        got = net(_as_input(golden[f"{name}.input"]))
    want = tuple(golden[f"{name}.{which}.{k}"] for k in ("out", "cam_logit", "heatmap"))
    assert _max_diff(got, want) <= ATOL


@pytest.mark.parametrize("name", ["ugatit_full", "ugatit_light"])
def test_generators_are_distinct(golden, name):
    """genA2B and genB2A really differ, so picking the wrong one would fail the test above."""
    assert (golden[f"{name}.genA2B.out"] - golden[f"{name}.genB2A.out"]).abs().max() > 0.1


@pytest.mark.parametrize("which,n_layers", [("disGA", 7), ("disLA", 5)])
def test_discriminator_matches_reference(golden, which, n_layers):
    ref = _ref("ugatit_full")[which]
    d = ugatit.Discriminator(3, ndf=1, n_layers=n_layers)
    assert _keys(d.state_dict()) == _keys(ref)
    d.load_state_dict(ref, strict=True)
    x = _as_input(golden[f"{which}.input"])
    keys = ("out", "cam_logit", "heatmap")
    with torch.no_grad():
        assert _max_diff(d.eval()(x), tuple(golden[f"{which}.eval.{k}"] for k in keys)) <= ATOL
        # training mode: one power iteration per forward, the same outputs and u, v as the reference's
        assert _max_diff(d.train()(x), tuple(golden[f"{which}.train.{k}"] for k in keys)) <= ATOL
    vectors = {k: v for k, v in d.state_dict().items() if k.endswith(("weight_u", "weight_v"))}
    assert len(vectors) == 2 * (n_layers + 2)  # every conv and both CAM classifiers
    for k, v in vectors.items():
        assert torch.allclose(v, golden[f"{which}.train.{k}"], atol=ATOL), k


@pytest.mark.parametrize(
    "make,file,net",
    [
        (lambda: ugatit.ResnetGenerator(3, 3, ngf=4, n_blocks=2, img_size=16, light=False), "ugatit_full", "genA2B"),
        (lambda: ugatit.ResnetGenerator(3, 3, ngf=4, n_blocks=1, light=True), "ugatit_light", "genB2A"),
        (lambda: ugatit.Discriminator(3, ndf=1, n_layers=7), "ugatit_full", "disGB"),
        (lambda: ugatit.Discriminator(3, ndf=1, n_layers=5), "ugatit_full", "disLB"),
    ],
    ids=["ugatit-full", "ugatit-light", "disG-7", "disL-5"],
)
def test_ugatit_keys_and_shapes_equal_reference(make, file, net):
    """The same keys, shapes and order as the reference's state dict (so strict loading works)."""
    assert _keys(make().state_dict()) == _keys(_ref(file)[net])


def test_photo2cartoon_keys_and_shapes_equal_reference():
    light = photo2cartoon.ResnetGenerator(ngf=4, img_size=64, light=True)
    assert _keys(light.state_dict()) == _keys(_ref("p2c_light")["genA2B"])
    spec = json.loads((DATA / "p2c_full_keys.json").read_text())
    full = photo2cartoon.ResnetGenerator(**spec["kwargs"])
    assert _keys(full.state_dict()) == [(k, tuple(s)) for k, s in spec["keys"]]
    assert len(spec["keys"]) == 406


def test_photo2cartoon_test_script_pipeline(golden):
    """photo2cartoon's test.py end to end (face -> white background -> net -> composite -> uint8),
    with the ngf=4 weights, against what the official script wrote."""
    path = SHARED_DATA / "faces" / "astronaut.png"
    if not path.exists():
        pytest.skip(f"{path} not available")
    rgb = np.asarray(Image.open(path).convert("RGB"))
    yy, xx = np.mgrid[0:512, 0:512].astype(np.float64)  # the same synthetic face mask as the golden script
    alpha = np.clip(255 * 4 * (1 - ((xx - 256) / 180) ** 2 - ((yy - 230) / 220) ** 2), 0, 255).astype(np.uint8)
    x, mask = photo2cartoon.photo_to_input(np.dstack([rgb, alpha]))
    assert x.shape == (1, 3, 256, 256) and x.dtype == torch.float32 and mask.shape == (256, 256, 1)
    net = build_generator(convert_ugatit(DATA / "p2c_light_params.pt"))
    with torch.no_grad():
        out = net(x)[0]
    got = photo2cartoon.output_to_cartoon(out, mask).astype(int)
    want = np.asarray(Image.open(DATA / "p2c_test_py_cartoon.png").convert("RGB")).astype(int)
    assert got.shape == want.shape == (256, 256, 3)
    # uint8 truncation can flip a value by one where the float result sits on an integer
    assert np.abs(got - want).max() <= 1 and (got == want).mean() > 0.999
    assert (got[mask[:, :, 0] == 0] == 255).all() and (mask == 0).mean() > 0.3  # white background


def test_output_to_cartoon_truncates_and_whitens():
    out = torch.tensor([-1.0, 0.0, 0.999]).view(3, 1, 1).expand(3, 2, 2).clone()
    mask = np.array([[[1.0], [0.0]], [[0.5], [1.0]]])
    img = photo2cartoon.output_to_cartoon(out, mask)
    assert img.dtype == np.uint8 and img.shape == (2, 2, 3)
    assert img[0, 0].tolist() == [0, 127, 254]  # 127.5 and 254.87 truncate
    assert img[0, 1].tolist() == [255, 255, 255]
    assert img[1, 0].tolist() == [127, 191, 254]  # 0.5 * v + 127.5


def test_tiny_generators_shapes():
    x = torch.randn(2, 3, 16, 16)
    for light in (False, True):
        out, cam, heat = ugatit.ResnetGenerator(3, 2, ngf=2, n_blocks=1, img_size=16, light=light)(x)
        assert out.shape == (2, 2, 16, 16) and cam.shape == (2, 2) and heat.shape == (2, 1, 4, 4)
        assert out.abs().max() <= 1
    out, cam, heat = ugatit.ResnetGenerator(3, 3, ngf=2, n_blocks=0, light=True)(torch.randn(1, 3, 24, 24))
    assert out.shape == (1, 3, 24, 24)  # light: any size divisible by 4
    out, cam, heat = photo2cartoon.ResnetGenerator(ngf=4, img_size=32, light=False)(torch.randn(1, 3, 32, 32))
    assert out.shape == (1, 3, 32, 32) and cam.shape == (1, 2) and heat.shape == (1, 1, 8, 8)


def test_backward_reaches_every_used_parameter():
    """Trainable as built: a loss on all three outputs gives every parameter a gradient, except
    photo2cartoon's never-used ConvBlock4 projections (kept only because the checkpoint has them)."""
    nets = [
        (ugatit.ResnetGenerator(3, 3, ngf=2, n_blocks=1, img_size=16), 16),
        (ugatit.Discriminator(3, ndf=1, n_layers=5), 32),
        (photo2cartoon.ResnetGenerator(ngf=4, img_size=32), 32),
    ]
    with torch.no_grad():  # at init (w = 0) the content MLPs get zero gradients: open the blend
        for m in nets[2][0].modules():
            if isinstance(m, photo2cartoon.SoftAdaLIN):
                m.w_gamma.fill_(0.5), m.w_beta.fill_(0.5)
    for net, size in nets:
        out, cam, heat = net(torch.randn(2, 3, size, size))
        (out.square().mean() + cam.square().mean() + heat.mean()).backward()
        no_grad = {k for k, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0}
        assert all(".ConvBlock4." in k for k in no_grad), sorted(no_grad)[:5]
    assert len(no_grad) == 4 * 14  # 4 hourglasses x 14 units (13 in the hourglass block, 1 after)


@pytest.mark.parametrize("n_layers,size,side", [(5, 32, 2), (5, 64, 6), (7, 128, 2)])
def test_discriminator_shapes(n_layers, size, side):
    out, cam, heat = ugatit.Discriminator(3, ndf=2, n_layers=n_layers)(torch.randn(2, 3, size, size))
    assert out.shape == (2, 1, side, side) and cam.shape == (2, 2) and heat.shape == (2, 1, side + 1, side + 1)


def test_clip_rho_and_blend_weights():
    net = photo2cartoon.ResnetGenerator(ngf=4, img_size=32, light=True)
    rhos = [m.rho for m in net.modules() if hasattr(m, "rho")]
    assert len(rhos) == 2 * 4 + 2  # 8 Soft-AdaLIN norms, 2 LIN
    with torch.no_grad():
        for i, r in enumerate(rhos):
            r.copy_(torch.linspace(-2, 3, r.numel()).view_as(r) * (i + 1))
        before = rhos[0].clone()
    ugatit.clip_rho_(net)
    for r in rhos:
        assert r.min() >= 0 and r.max() <= 1
    inside = (before >= 0) & (before <= 1)
    assert torch.equal(rhos[0][inside], before[inside]) and rhos[0].requires_grad

    blends = [m for m in net.modules() if isinstance(m, photo2cartoon.SoftAdaLIN)]
    with torch.no_grad():
        blends[0].w_gamma.fill_(-0.5)
        blends[0].w_beta.fill_(1.5)
    photo2cartoon.clip_blend_(net)
    assert blends[0].w_gamma.eq(0).all() and blends[0].w_beta.eq(1).all()

    g = ugatit.ResnetGenerator(3, 3, ngf=2, n_blocks=2, img_size=16)
    with torch.no_grad():
        for m in g.modules():
            if hasattr(m, "rho"):
                m.rho.fill_(1.7)
    ugatit.clip_rho_(g)
    assert all(m.rho.eq(1).all() for m in g.modules() if hasattr(m, "rho"))


def test_converter_source_and_json():
    path = DATA / "ugatit_full_params.pt"
    conv = convert_ugatit(path, "genB2A")
    assert conv.source["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert conv.source["which"] == "genB2A"
    assert conv.source["nets_in_file"] == ["genA2B", "genB2A", "disGA", "disGB", "disLA", "disLB"]
    assert conv.source["detected"]["img_size_from"] == "FC.0.weight"
    json.dumps(conv.net_kwargs), json.dumps(conv.source)
    assert all(v.dtype == torch.float32 for v in conv.tensors.values())


def _save(tmp_path: Path, obj: object, name: str = "x.pt") -> Path:
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_converter_rejects_extra_missing_and_misshapen_keys(tmp_path):
    params = _ref("ugatit_light")
    extra = {**params, "genA2B": {**params["genA2B"], "UpBlock2.99.weight": torch.zeros(1)}}
    with pytest.raises(BadInput, match=r"left over: UpBlock2\.99\.weight"):
        convert_ugatit(_save(tmp_path, extra))
    missing = {k: v for k, v in params["genA2B"].items() if k != "UpBlock2.3.rho"}
    with pytest.raises(BadInput, match=r"missing: UpBlock2\.3\.rho"):
        convert_ugatit(_save(tmp_path, {"genA2B": missing}))
    wrong = {**params["genA2B"], "gamma.weight": torch.zeros(16, 15)}
    with pytest.raises(BadInput, match="wrong shape: gamma.weight"):
        convert_ugatit(_save(tmp_path, {"genA2B": wrong}))
    bad_fc = {**params["genA2B"], "FC.0.weight": torch.zeros(16, 17)}
    with pytest.raises(BadInput, match="FC.0.weight input 17"):
        convert_ugatit(_save(tmp_path, {"genA2B": bad_fc}))


class _Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_converter_rejects_other_files(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        convert_ugatit(tmp_path / "absent.pt")
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(BadInput, match="not a readable PyTorch checkpoint"):
        convert_ugatit(text)
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"genA2B": _Payload()}, protocol=2))
    with pytest.raises(BadInput, match="not a readable PyTorch checkpoint"):
        convert_ugatit(evil)
    with pytest.raises(BadInput, match=r"found 'g_ema', 'latent_avg'"):
        convert_ugatit(_save(tmp_path, {"g_ema": {"w": torch.zeros(1)}, "latent_avg": torch.zeros(1)}))
    with pytest.raises(BadInput, match="bare state dict"):
        convert_ugatit(_save(tmp_path, _ref("ugatit_light")["genA2B"]))
    with pytest.raises(BadInput, match="holds a list"):
        convert_ugatit(_save(tmp_path, [1, 2]))
    with pytest.raises(BadInput, match=r"has no 'genB2A' \(it holds 'genA2B'\)"):
        convert_ugatit(DATA / "p2c_light_params.pt", "genB2A")
    with pytest.raises(BadInput, match="not one of genA2B, genB2A"):
        convert_ugatit(DATA / "ugatit_full_params.pt", "disGA")
    d_as_g = {"genA2B": _ref("ugatit_full")["disGA"]}
    with pytest.raises(BadInput, match="neither U-GAT-IT's nor photo2cartoon's"):
        convert_ugatit(_save(tmp_path, d_as_g))
