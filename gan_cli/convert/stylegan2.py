"""StyleGAN2 generators from rosinality `.pt` checkpoints and NVlabs `.pkl` network pickles.

Both become `gan_cli.nets.stylegan2.Generator` keyword arguments plus a state dict under
rosinality's names (`Converted`). Every tensor of the source generator must find its place (a
leftover is an error naming it); the truncation centre goes to `extra["w_avg"]`.

NVlabs' StyleGAN2 (stylegan2-ada-pytorch `training/networks.py`, stylegan3's `networks_stylegan2.py`)
computes what rosinality computes, with these differences, handled as said:
- names and shapes: `mapping.fc{i}` -> `style.{i+1}`, `synthesis.b{res}.conv0/conv1/torgb` ->
  `convs.*`/`to_rgbs.*`, `affine` -> `conv.modulation`, weights get rosinality's leading 1,
  `noise_const` [r, r] -> `noises.noise_{i}` [1, 1, r, r], `noise_strength` [] -> `noise.weight` [1];
- the up-sampling filters are stored normalised; rosinality's buffers carry the gain of 4;
  the filters of layers that do not resample are unused by NVlabs' code (consumed, not copied);
- `conv_clamp` (activations clamped to +-conv_clamp after each conv and ToRGB): a Generator option;
- `z_dim` != `w_dim`: a Generator option;
- demodulation: NVlabs demodulates w * s with eps 1e-8, rosinality demodulates the lr-scaled weight
  (same eps): identical up to an eps ~1e-8 relative to a sum of squares ~1, below float32 resolution;
- `num_fp16_res`: NVlabs runs those blocks in float16 on a GPU; converted networks compute in float32;
- `use_noise=False`: noise strengths and maps are written as zeros (0 * noise adds nothing).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gan_cli.convert import sha256
from gan_cli.convert.unpickle import load_network_pickle, module_tensors
from gan_cli.errors import BadInput
from gan_cli.nets.stylegan2 import Generator, channel_table

SOURCES = ("rosinality", "nvlabs")


@dataclass
class Converted:
    net_kwargs: dict[str, Any]  # JSON-able Generator(**net_kwargs) arguments
    tensors: dict[str, torch.Tensor]  # Generator state dict, rosinality names
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # e.g. {"w_avg": [style_dim]}
    source: dict[str, Any] = field(default_factory=dict)  # format, file, sha256, keys consumed, ...


def convert_stylegan2(path: Path, source: str | None = None) -> Converted:
    """Convert a rosinality `.pt` or NVlabs `.pkl` StyleGAN2 file; source None = from the file name."""
    path = Path(path)
    if source is None:
        source = "nvlabs" if path.suffix.lower() == ".pkl" else "rosinality"
    if source not in SOURCES:
        raise BadInput(f"unknown StyleGAN2 source {source!r} (one of: {', '.join(SOURCES)})")
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    conv = _from_rosinality(path) if source == "rosinality" else _from_nvlabs(path)
    conv.source = {"format": source, "file": path.name, "sha256": sha256(path), **conv.source}
    return conv


def _expected(net_kwargs: dict[str, Any]) -> dict[str, torch.Size]:
    with torch.device("meta"):
        return {k: v.shape for k, v in Generator(**net_kwargs).state_dict().items()}


def _check_complete(tensors: dict[str, torch.Tensor], net_kwargs: dict[str, Any], what: str) -> None:
    want = _expected(net_kwargs)
    extra = sorted(set(tensors) - set(want))
    missing = sorted(set(want) - set(tensors))
    if extra or missing:
        raise BadInput(f"{what} does not fit a StyleGAN2 generator: unexpected {extra[:8]}, missing {missing[:8]}")
    bad = [f"{k} {list(tensors[k].shape)} (expected {list(s)})" for k, s in want.items() if tensors[k].shape != s]
    if bad:
        raise BadInput(f"{what}: wrong shapes: {'; '.join(bad[:5])}")


# --- rosinality -------------------------------------------------------------------------------------


def _from_rosinality(path: Path) -> Converted:
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):  # training checkpoints hold "args"
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise BadInput(f"{path} is not a readable PyTorch checkpoint ({str(e).splitlines()[0][:200]})") from None
    if not isinstance(ckpt, dict):
        raise BadInput(f"{path} holds a {type(ckpt).__name__}, not a checkpoint dict")
    if "g_ema" in ckpt:
        sd, key = ckpt["g_ema"], "g_ema"
    elif "style.1.weight" in ckpt:
        sd, key = ckpt, None
    else:
        raise BadInput(f"{path} has no rosinality StyleGAN2 generator (no g_ema; found keys {sorted(ckpt)[:10]})")
    if not isinstance(sd, dict) or "style.1.weight" not in sd or "input.input" not in sd:
        raise BadInput(f"{path}: g_ema is not a rosinality StyleGAN2 generator (keys {sorted(sd)[:6]}...)")
    sd = {k: v.float() for k, v in sd.items()}
    kwargs = _rosinality_kwargs(sd)
    _check_complete(sd, kwargs, f"{path} g_ema")
    extra = {"w_avg": ckpt["latent_avg"].float().reshape(-1)} if key and "latent_avg" in ckpt else {}
    ignored = sorted(k for k in ckpt if k not in ("g_ema", "latent_avg")) if key else []
    return Converted(
        kwargs, sd, extra, {"generator": key or "(top level)", "keys_consumed": len(sd), "ignored": ignored}
    )


def _rosinality_kwargs(sd: dict[str, torch.Tensor]) -> dict[str, Any]:
    n_mlp = sum(1 for k in sd if k.startswith("style.") and k.endswith(".weight"))
    style_dim, z_dim = sd["style.1.weight"].shape
    n_up = sum(1 for k in sd if k.startswith("to_rgbs.") and k.endswith(".conv.weight"))
    size = 4 * 2**n_up
    table = {4: sd["input.input"].shape[1]}
    for j in range(n_up):
        table[8 * 2**j] = sd[f"convs.{2 * j}.conv.weight"].shape[1]
    kwargs: dict[str, Any] = dict(
        size=size,
        style_dim=style_dim,
        n_mlp=n_mlp,
        **_channel_kwargs(table, size),
        img_channels=sd["to_rgb1.conv.weight"].shape[1],
    )
    if z_dim != style_dim:
        kwargs["z_dim"] = z_dim
    if "convs.0.conv.blur.kernel" in sd:  # a non-default FIR kernel is visible in the stored buffer
        k = sd["convs.0.conv.blur.kernel"]
        taps = k.sum(0) / k.sum(0)[0]
        if not torch.allclose(taps, taps.round(), atol=1e-4):
            raise BadInput("blur kernel is not separable into integer taps")
        if taps.round().tolist() != [1, 3, 3, 1]:
            kwargs["blur_kernel"] = [int(t) for t in taps.round().tolist()]
    return kwargs


def _channel_kwargs(table: dict[int, int], size: int) -> dict[str, int]:
    """Generator arguments that reproduce channels per resolution: a channel_multiplier, else base/max."""
    for cm in (2, 1, 4):
        ref = channel_table(cm, None, None)
        if all(ref[r] == c for r, c in table.items()):
            return {"channel_multiplier": cm}
    cap, base = max(table.values()), table[size] * size
    ref = channel_table(2, base, cap)
    if all(ref[r] == c for r, c in table.items()):
        return {"channel_base": base, "channel_max": cap}
    raise BadInput(f"channels per resolution {table} follow neither rosinality's table nor min(base // res, max)")


# --- NVlabs -----------------------------------------------------------------------------------------

_TOP = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs"}
_MAPPING = {"num_layers", "lr_multiplier", "activation", "w_avg_beta", "embed_features", "layer_features"}
_SYNTH = {
    "channel_base",
    "channel_max",
    "num_fp16_res",
    "conv_clamp",
    "architecture",
    "resample_filter",
    "use_noise",
    "activation",
    "fp16_channels_last",
    "kernel_size",
}


def _from_nvlabs(path: Path) -> Converted:
    data = load_network_pickle(path)
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), dict) or "state" not in data["G_ema"]:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise BadInput(f"{path} is not an NVlabs network pickle with G_ema (found {found})")
    g = data["G_ema"]
    src = module_tensors(g)
    if g["class_name"] != "Generator" or any(
        k.startswith("synthesis.L0_") or k.startswith("synthesis.input.") for k in src
    ):
        kind = "a StyleGAN3 (alias-free)" if "synthesis.input.affine.weight" in src else f"a {g['class_name']}"
        raise BadInput(f"{path}: G_ema is {kind} network, not a StyleGAN2 generator")
    kwargs = _nvlabs_kwargs(dict(g["init_kwargs"]), path)
    tensors = _rename_nvlabs(src, kwargs)
    _check_complete(tensors, kwargs, f"{path} G_ema")
    return Converted(
        kwargs,
        tensors,
        {"w_avg": src["mapping.w_avg"].float().clone()},
        {"generator": "G_ema", "keys_consumed": len(src), "ignored": sorted(k for k in data if k != "G_ema")},
    )


def _nvlabs_kwargs(kw: dict[str, Any], path: Path) -> dict[str, Any]:
    mk, sk = dict(kw.get("mapping_kwargs") or {}), dict(kw.get("synthesis_kwargs") or {})
    unknown = (
        sorted(set(kw) - _TOP)
        + sorted(f"mapping_kwargs.{k}" for k in set(mk) - _MAPPING)
        + sorted(f"synthesis_kwargs.{k}" for k in set(sk) - _SYNTH)
    )
    if unknown:
        raise BadInput(f"{path}: G_ema has options this converter does not know: {', '.join(unknown)}")
    w_dim = kw["w_dim"]
    checks = {
        "c_dim": (kw.get("c_dim", 0), 0),  # class-conditional generators are not supported
        "mapping_kwargs.activation": (mk.get("activation", "lrelu"), "lrelu"),
        "mapping_kwargs.layer_features": (mk.get("layer_features") or w_dim, w_dim),
        "synthesis_kwargs.architecture": (sk.get("architecture", "skip"), "skip"),
        "synthesis_kwargs.activation": (sk.get("activation", "lrelu"), "lrelu"),
        "synthesis_kwargs.kernel_size": (sk.get("kernel_size", 3), 3),
    }
    for name, (got, want) in checks.items():
        if got != want:
            raise BadInput(f"{path}: G_ema has {name}={got!r}; only {want!r} is supported")
    out: dict[str, Any] = dict(
        size=kw["img_resolution"],
        style_dim=w_dim,
        n_mlp=mk.get("num_layers", 8),
        lr_mlp=float(mk.get("lr_multiplier", 0.01)),
        img_channels=kw["img_channels"],
        channel_base=sk.get("channel_base", 32768),
        channel_max=sk.get("channel_max", 512),
        blur_kernel=list(sk.get("resample_filter", [1, 3, 3, 1])),
    )
    if kw["z_dim"] != w_dim:
        out["z_dim"] = kw["z_dim"]
    if sk.get("conv_clamp") is not None:
        out["conv_clamp"] = float(sk["conv_clamp"])
    return out


def _rename_nvlabs(src: dict[str, torch.Tensor], kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """NVlabs names -> rosinality names (see the module docstring); raises on any unconsumed key."""
    left = dict(src)
    out: dict[str, torch.Tensor] = {}

    def take(name: str) -> torch.Tensor:
        if name not in left:
            raise BadInput(f"G_ema lacks {name}")
        return left.pop(name).float()

    left.pop("mapping.w_avg", None)
    for i in range(kwargs["n_mlp"]):
        out[f"style.{i + 1}.weight"], out[f"style.{i + 1}.bias"] = (
            take(f"mapping.fc{i}.weight"),
            take(f"mapping.fc{i}.bias"),
        )
    out["input.input"] = take("synthesis.b4.const").unsqueeze(0)
    log_size = int(math.log2(kwargs["size"]))
    layers = [("synthesis.b4.conv1", "conv1", 0)]
    rgbs = [("synthesis.b4.torgb", "to_rgb1", None)]
    for j, log in enumerate(range(3, log_size + 1)):
        b = f"synthesis.b{2**log}"
        layers += [(f"{b}.conv0", f"convs.{2 * j}", 2 * j + 1), (f"{b}.conv1", f"convs.{2 * j + 1}", 2 * j + 2)]
        rgbs.append((f"{b}.torgb", f"to_rgbs.{j}", f"{b}.resample_filter"))
    for s, d, noise_i in layers:
        out[f"{d}.conv.weight"] = take(f"{s}.weight").unsqueeze(0)
        out[f"{d}.conv.modulation.weight"] = take(f"{s}.affine.weight")
        out[f"{d}.conv.modulation.bias"] = take(f"{s}.affine.bias")
        out[f"{d}.activate.bias"] = take(f"{s}.bias")
        res = 2 ** ((noise_i + 5) // 2)
        if f"{s}.noise_strength" in left:
            out[f"{d}.noise.weight"] = take(f"{s}.noise_strength").reshape(1)
            out[f"noises.noise_{noise_i}"] = take(f"{s}.noise_const").reshape(1, 1, res, res)
        else:  # use_noise=False
            out[f"{d}.noise.weight"], out[f"noises.noise_{noise_i}"] = torch.zeros(1), torch.zeros(1, 1, res, res)
        f = take(f"{s}.resample_filter")
        if s.endswith("conv0"):
            out[f"{d}.conv.blur.kernel"] = f * 4
    for s, d, filt in rgbs:
        out[f"{d}.conv.weight"] = take(f"{s}.weight")[None]
        out[f"{d}.conv.modulation.weight"] = take(f"{s}.affine.weight")
        out[f"{d}.conv.modulation.bias"] = take(f"{s}.affine.bias")
        out[f"{d}.bias"] = take(f"{s}.bias").reshape(1, -1, 1, 1)
        if filt is not None:
            out[f"{d}.upsample.kernel"] = take(filt) * 4
    take("synthesis.b4.resample_filter")  # unused: the 4x4 block has no image to upsample
    if left:
        raise BadInput(f"G_ema has tensors a StyleGAN2 generator does not use: {', '.join(sorted(left)[:10])}")
    return out
