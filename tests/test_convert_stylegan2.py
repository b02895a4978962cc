"""StyleGAN2 converters: golden outputs of the reference code, synthetic files of both formats, hostile pickles.

Golden files (tests/data/stylegan2/README.md says how they were made) were computed by
rosinality/stylegan2-pytorch and NVlabs/stylegan2-ada-pytorch themselves.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import subprocess
import sys
import types
import uuid
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gan_cli.convert.stylegan2 import _channel_kwargs, convert_stylegan2
from gan_cli.convert.unpickle import load_network_pickle
from gan_cli.errors import BadInput
from gan_cli.nets.stylegan2 import Discriminator, Generator

DATA = Path(__file__).parent / "data" / "stylegan2"


def build(conv) -> Generator:
    g = Generator(**conv.net_kwargs).eval()
    g.load_state_dict(conv.tensors, strict=True)
    return g


# --- golden files ------------------------------------------------------------------------------------


def test_rosinality_golden():
    conv = convert_stylegan2(DATA / "rosinality_64px.pt")
    assert conv.net_kwargs == dict(size=64, style_dim=32, n_mlp=2, channel_base=512, channel_max=16, img_channels=3)
    assert conv.source["sha256"] == hashlib.sha256((DATA / "rosinality_64px.pt").read_bytes()).hexdigest()
    assert conv.source["keys_consumed"] == len(conv.tensors) and conv.source["ignored"] == ["d"]
    g, out = build(conv), load_file(DATA / "rosinality_64px_outputs.safetensors")
    with torch.no_grad():
        got = {
            "img_trunc": g(out["z"], truncation=0.7, truncation_latent=conv.extra["w_avg"]),
            "img_mix": g([out["z"], out["z2"]], inject_index=3),
            "img_wplus": g(out["wplus"], input_is_latent=True),
        }
    for k, v in got.items():
        assert (v - out[k]).abs().max() < 1e-4, k
    d = Discriminator(64, channel_multiplier=1, channel_base=512, channel_max=16).eval()
    d.load_state_dict(torch.load(DATA / "rosinality_64px.pt", weights_only=True)["d"], strict=True)
    with torch.no_grad():
        assert (d(out["img_trunc"]) - out["d_out"]).abs().max() < 1e-4


def test_nvlabs_golden():
    conv = convert_stylegan2(DATA / "nvlabs_32px.pkl")
    assert conv.net_kwargs["z_dim"] == 24 and conv.net_kwargs["conv_clamp"] == 1.5
    assert conv.source["format"] == "nvlabs" and conv.source["keys_consumed"] == 75
    assert conv.source["ignored"] == ["D", "G", "augment_pipe", "training_set_kwargs"]
    g, out = build(conv), load_file(DATA / "nvlabs_32px_outputs.safetensors")
    with torch.no_grad():
        img = g(out["z"], truncation=0.7, truncation_latent=conv.extra["w_avg"])
        assert (img - out["img_trunc"]).abs().max() < 1e-4
        assert (g(out["z"]) - out["img_psi1"]).abs().max() < 1e-4
        g.conv1.activate.clamp = None  # the clamp matters: without it the first layer already differs
        assert (g(out["z"]) - out["img_psi1"]).abs().max() > 1e-2


# --- synthetic NVlabs pickles, written the way torch_utils.persistence writes them ----------------


def nvlabs_names(size: int, z_dim: int, w_dim: int, ch: dict[int, int], n_map: int, img: int, noise: bool) -> dict:
    """Tensor name -> shape of an NVlabs StyleGAN2 G (training/networks.py naming)."""
    t: dict[str, tuple] = {"mapping.w_avg": (w_dim,)}
    for i in range(n_map):
        t[f"mapping.fc{i}.weight"], t[f"mapping.fc{i}.bias"] = (w_dim, z_dim if i == 0 else w_dim), (w_dim,)
    res = 4
    while res <= size:
        b = f"synthesis.b{res}"
        t[f"{b}.resample_filter"] = (4, 4)
        if res == 4:
            t[f"{b}.const"] = (ch[4], 4, 4)
        for layer, c_in in ([("conv1", ch[4])] if res == 4 else [("conv0", ch[res // 2]), ("conv1", ch[res])]):
            p = f"{b}.{layer}"
            t[f"{p}.weight"], t[f"{p}.bias"] = (ch[res], c_in, 3, 3), (ch[res],)
            t[f"{p}.affine.weight"], t[f"{p}.affine.bias"] = (c_in, w_dim), (c_in,)
            t[f"{p}.resample_filter"] = (4, 4)
            if noise:
                t[f"{p}.noise_strength"], t[f"{p}.noise_const"] = (), (res, res)
        t[f"{b}.torgb.weight"], t[f"{b}.torgb.bias"] = (img, ch[res], 1, 1), (img,)
        t[f"{b}.torgb.affine.weight"], t[f"{b}.torgb.affine.bias"] = (ch[res], w_dim), (ch[res],)
        res *= 2
    return t


@pytest.fixture
def persistence(monkeypatch):
    """A stand-in torch_utils.persistence module, so pickle writes the global NVlabs pickles name."""
    mod = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # never called: the tests only write
        raise AssertionError

    _reconstruct_persistent_obj.__module__ = mod.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    mod._reconstruct_persistent_obj = _reconstruct_persistent_obj
    monkeypatch.setitem(sys.modules, "torch_utils", types.ModuleType("torch_utils"))
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", mod)
    return mod


class Persistent:
    def __init__(self, fn, class_name: str, state: dict, module_src: str = "raise SystemExit('never run')\n"):
        self.fn, self.class_name, self.state, self.module_src = fn, class_name, state, module_src

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src=self.module_src, class_name=self.class_name, state=self.state)
        return self.fn, (meta,)


def write_nvlabs(path: Path, persistence, shapes: dict, init_kwargs: dict, class_name: str = "Generator") -> None:
    torch.manual_seed(0)
    tree: dict = {}
    for name, shape in shapes.items():
        *mods, leaf = name.split(".")
        node = tree
        for m in mods:
            node = node.setdefault(m, {})
        node[leaf] = torch.randn(shape) * 0.5

    def obj(node: dict, cls: str, kwargs: dict) -> Persistent:
        params, bufs, mods = OrderedDict(), OrderedDict(), OrderedDict()
        for k, v in node.items():
            if isinstance(v, dict):
                mods[k] = obj(v, k, {})
            elif k in ("w_avg", "noise_const", "resample_filter"):
                bufs[k] = v
            else:
                params[k] = torch.nn.Parameter(v, requires_grad=False)
        state = dict(training=False, _parameters=params, _buffers=bufs, _modules=mods, _init_args=(),
                     _init_kwargs=kwargs, _non_persistent_buffers_set=set(), act_gain=1.4142135623730951)
        return Persistent(persistence._reconstruct_persistent_obj, cls, state)

    data = dict(G=None, D=None, G_ema=obj(tree, class_name, init_kwargs), augment_pipe=None)
    path.write_bytes(pickle.dumps(data, protocol=4))


def nv_kwargs(size: int, **synth) -> dict:
    return dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=size, img_channels=3,
                mapping_kwargs=dict(num_layers=2), synthesis_kwargs=dict(channel_base=64, channel_max=8, **synth))


@pytest.mark.parametrize("size,noise", [(8, True), (64, True), (16, False)])
def test_nvlabs_synthetic_consumed_entirely(tmp_path, persistence, size, noise):
    ch = {r: min(64 // r, 8) for r in (4, 8, 16, 32, 64)}
    shapes = nvlabs_names(size, 16, 16, ch, 2, 3, noise)
    kwargs = nv_kwargs(size) if noise else nv_kwargs(size, use_noise=False)
    write_nvlabs(tmp_path / "g.pkl", persistence, shapes, kwargs)
    conv = convert_stylegan2(tmp_path / "g.pkl")
    assert conv.source["keys_consumed"] == len(shapes)
    g = build(conv)
    with torch.no_grad():
        img = g(torch.randn(2, 16), noise_mode="random")
    assert img.shape == (2, 3, size, size)
    if not noise:
        assert all(not v.any() for k, v in conv.tensors.items() if "noise" in k)


def test_nvlabs_leftover_and_missing_keys(tmp_path, persistence):
    ch = {r: min(64 // r, 8) for r in (4, 8, 16)}
    shapes = nvlabs_names(16, 16, 16, ch, 2, 3, True)
    write_nvlabs(tmp_path / "extra.pkl", persistence, {**shapes, "synthesis.b8.conv0.mystery": (3,)}, nv_kwargs(16))
    with pytest.raises(BadInput, match=r"synthesis\.b8\.conv0\.mystery"):
        convert_stylegan2(tmp_path / "extra.pkl")
    del shapes["synthesis.b16.torgb.affine.bias"]
    write_nvlabs(tmp_path / "short.pkl", persistence, shapes, nv_kwargs(16))
    with pytest.raises(BadInput, match=r"synthesis\.b16\.torgb\.affine\.bias"):
        convert_stylegan2(tmp_path / "short.pkl")


@pytest.mark.parametrize("change,message", [
    (dict(c_dim=10), "c_dim"),
    (dict(synthesis_kwargs=dict(channel_base=64, channel_max=8, architecture="resnet")), "architecture"),
    (dict(synthesis_kwargs=dict(channel_base=64, channel_max=8, magnitude_ema_beta=0.99)), "magnitude_ema_beta"),
])
def test_nvlabs_unsupported_options(tmp_path, persistence, change, message):
    ch = {r: min(64 // r, 8) for r in (4, 8)}
    write_nvlabs(tmp_path / "g.pkl", persistence, nvlabs_names(8, 16, 16, ch, 2, 3, True), {**nv_kwargs(8), **change})
    with pytest.raises(BadInput, match=message):
        convert_stylegan2(tmp_path / "g.pkl")


def test_nvlabs_stylegan3_refused(tmp_path, persistence):
    shapes = {"mapping.fc0.weight": (16, 16), "synthesis.input.affine.weight": (4, 16),
              "synthesis.L0_36_8.weight": (8,)}
    write_nvlabs(tmp_path / "sg3.pkl", persistence, shapes, nv_kwargs(8))
    with pytest.raises(BadInput, match="StyleGAN3"):
        convert_stylegan2(tmp_path / "sg3.pkl")


def test_nvlabs_without_g_ema(tmp_path):
    (tmp_path / "x.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    with pytest.raises(BadInput, match="found.*weights"):
        convert_stylegan2(tmp_path / "x.pkl")


# --- hostile and broken pickles --------------------------------------------------------------------


class Evil:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.mark.parametrize("make", [
    lambda marker: Evil(os.system, f"touch {marker}"),
    lambda marker: Evil(subprocess.call, ["touch", marker]),
    lambda marker: Evil(eval, f"open({marker!r}, 'w')"),
])
def test_malicious_pickle_refused(tmp_path, make):
    marker = str(tmp_path / f"pwned-{uuid.uuid4().hex}")
    payload = {"G_ema": make(marker)}
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(BadInput, match=r"refusing to load the pickle: it asks for \S*(system|call|eval)"):
        convert_stylegan2(tmp_path / "evil.pkl")
    assert not os.path.exists(marker)


def test_persistent_source_is_never_run(tmp_path, persistence):
    # module_src of a persistent object would run in NVlabs' loader; here it is dropped unread
    marker = str(tmp_path / f"pwned-{uuid.uuid4().hex}")
    state = dict(_parameters={}, _buffers={}, _modules={})
    obj = Persistent(persistence._reconstruct_persistent_obj, "Generator", state, f"open({marker!r}, 'w')")
    (tmp_path / "src.pkl").write_bytes(pickle.dumps({"G_ema": obj}))
    loaded = load_network_pickle(tmp_path / "src.pkl")
    assert loaded["G_ema"]["class_name"] == "Generator" and "open(" not in repr(loaded)
    assert not os.path.exists(marker)


def test_truncated_pickle(tmp_path):
    blob = (DATA / "nvlabs_32px.pkl").read_bytes()
    (tmp_path / "cut.pkl").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(BadInput, match="not a readable network pickle"):
        convert_stylegan2(tmp_path / "cut.pkl")


# --- rosinality files --------------------------------------------------------------------------------


def tiny_rosinality_sd(size: int = 16) -> dict:
    torch.manual_seed(0)
    return Generator(size, style_dim=16, n_mlp=3, channel_base=64, channel_max=8).state_dict()


def test_rosinality_training_checkpoint_layout(tmp_path):
    sd = tiny_rosinality_sd()
    args = argparse.Namespace(size=16, latent=16, n_mlp=3, channel_multiplier=2, path="lmdb")
    torch.save({"g": sd, "d": {}, "g_ema": sd, "g_optim": {}, "d_optim": {}, "args": args, "ada_aug_p": 0.1},
               tmp_path / "000100.pt")
    conv = convert_stylegan2(tmp_path / "000100.pt", "rosinality")
    assert conv.net_kwargs == dict(size=16, style_dim=16, n_mlp=3, channel_base=64, channel_max=8, img_channels=3)
    assert conv.extra == {} and "g_optim" in conv.source["ignored"]
    assert all(torch.equal(conv.tensors[k], v) for k, v in sd.items())


def test_rosinality_bare_state_dict_and_channel_tables(tmp_path):
    sd = tiny_rosinality_sd()
    torch.save(sd, tmp_path / "g.pt")
    assert convert_stylegan2(tmp_path / "g.pt").source["generator"] == "(top level)"
    rosinality = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128}
    assert _channel_kwargs(rosinality, 128) == {"channel_multiplier": 1}
    assert _channel_kwargs({**rosinality, 64: 512, 128: 256, 256: 128}, 256) == {"channel_multiplier": 2}
    with pytest.raises(BadInput, match="follow neither"):
        _channel_kwargs({4: 8, 8: 16, 16: 4}, 16)


def test_rosinality_leftovers_and_wrong_architecture(tmp_path):
    sd = tiny_rosinality_sd()
    torch.save({"g_ema": {**sd, "convs.9.conv.weight": torch.zeros(1)}}, tmp_path / "extra.pt")
    with pytest.raises(BadInput, match=r"unexpected \['convs\.9\.conv\.weight'\]"):
        convert_stylegan2(tmp_path / "extra.pt")
    sd["conv1.conv.modulation.bias"] = torch.zeros(5)
    torch.save({"g_ema": sd}, tmp_path / "shape.pt")
    with pytest.raises(BadInput, match="conv1.conv.modulation.bias"):
        convert_stylegan2(tmp_path / "shape.pt")
    torch.save({"G": {"main.0.weight": torch.zeros(3)}, "D": {}}, tmp_path / "dcgan.pt")
    with pytest.raises(BadInput, match=r"no rosinality StyleGAN2 generator .*'D', 'G'"):
        convert_stylegan2(tmp_path / "dcgan.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInput, match="not a readable PyTorch checkpoint"):
        convert_stylegan2(tmp_path / "junk.pt")


def test_rosinality_pt_with_code_is_refused(tmp_path):
    marker = str(tmp_path / f"pwned-{uuid.uuid4().hex}")
    torch.save({"g_ema": Evil(os.system, f"touch {marker}")}, tmp_path / "evil.pt")
    with pytest.raises(BadInput, match="not a readable PyTorch checkpoint"):
        convert_stylegan2(tmp_path / "evil.pt")
    assert not os.path.exists(marker)


def test_bad_source_name(tmp_path):
    with pytest.raises(BadInput, match="unknown StyleGAN2 source"):
        convert_stylegan2(DATA / "rosinality_64px.pt", "tf")
    with pytest.raises(BadInput, match="no such file"):
        convert_stylegan2(tmp_path / "missing.pkl")
