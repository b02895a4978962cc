"""`gan convert SRC DST.safetensors`: a published checkpoint of another project -> a gan-cli generator checkpoint.

Formats are a table: name -> (sniff, convert). `sniff(path)` says cheaply whether SRC looks like that
format (by name and layout, without unpickling anything); `convert(path, direction)` reads it through a
module of gan_cli/convert/ and returns a `Converted` checkpoint: the family that runs it, its options,
size and channels, the tensors under the family's inference net names, and a `source` record. Another
format (StyleGAN2, U-GAT-IT) is one more entry. The file written is an ordinary generator checkpoint
(`kind: generator`, metadata `source`), so `gan translate --weights DST` / `gan sample` need no other flag.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from gan_cli import console
from gan_cli.errors import BadInput

HELP = """Convert a published checkpoint into a gan-cli generator checkpoint (.safetensors) that the other
commands use with no other flag. Files are read with torch.load(weights_only=True), or for NVlabs pickles
a restricted unpickler that rebuilds tensors and plain containers only: no pickled code runs.

U-GAT-IT / Photo2Cartoon: the official U-GAT-IT checkpoint (*_params_*.pt: genA2B and genB2A) or
minivision's photo2cartoon_weights.pt becomes a ugatit or photo2cartoon checkpoint for gan translate.

StyleGAN2: a rosinality/stylegan2-pytorch .pt (training checkpoint or convert_weight.py output: g_ema and
latent_avg) or an NVlabs stylegan2-ada-pytorch / stylegan3 .pkl (G_ema, StyleGAN2 architecture) becomes a
stylegan2 checkpoint for gan sample, gan mix and gan eval-fid, with the source's noise maps and mean w.

junyanz (pytorch-CycleGAN-and-pix2pix): a generator file (latest_net_G.pth, *_net_G_A.pth, *_net_G_B.pth,
or a pretrained model such as horse2zebra.pth) becomes a one-generator checkpoint (family pix2pix, whatever
it was trained as; architecture, norm, widths and channels are read from the keys); a checkpoints folder
holding *_net_G_A.pth and *_net_G_B.pth becomes a cyclegan checkpoint with both directions.

PaddleGAN: a .pdparams (paddle.save of a state dict: numpy arrays, read by a restricted unpickler) of
ppgan's StyleGANv2Generator (stylegan2-ffhq-config-f.pdparams) or of its photo2cartoon / U-GAT-IT
generators (photo2cartoon_genA2B_weight.pdparams) becomes a stylegan2 / photo2cartoon / ugatit checkpoint.

DCGAN (pytorch/examples dcgan/main.py, the PyTorch DCGAN tutorial): a netG state dict (netG_epoch_24.pth;
keys main.N.*) becomes a dcgan checkpoint; nz, ngf, channels and size are read from the shapes.

[bold]Examples[/]

  gan convert stylegan2-ffhq-config-f.pt ffhq.safetensors && gan sample --weights ffhq.safetensors --seed 233
  gan convert ffhq.pkl ffhq-ada.safetensors --from nvlabs
  gan convert latest_net_G.pth facades.safetensors
  gan convert horse2zebra.pth horse2zebra.safetensors && gan translate --weights horse2zebra.safetensors in/ out/
  gan convert checkpoints/maps_cyclegan/ maps.safetensors --from junyanz
  gan convert photo2cartoon_genA2B_weight.pdparams p2c-paddle.safetensors
  gan convert netG_epoch_24.pth dcgan64.safetensors && gan sample --weights dcgan64.safetensors
"""


@dataclass
class Converted:
    family: str  # the gan-cli family that runs it
    options: dict[str, Any]  # that family's options (all of them)
    size: int  # the size it was trained at (translate's default --size)
    channels: int  # output channels (domain B)
    in_channels: int  # input channels (domain A)
    tensors: dict[str, Any]  # "<inference net>.<key>" -> tensor
    source: dict[str, Any]  # where it came from: format, file(s), sha256, what was detected
    summary: str  # one line for the user


def _junyanz_sniff(path: Path) -> bool:
    if path.is_dir():
        return any(path.glob("*_net_G*.pth"))
    return path.suffix == ".pth"


def _junyanz_convert(path: Path, direction: str | None) -> Converted:
    from gan_cli.convert.junyanz import convert_junyanz

    if path.is_dir():
        if direction is not None:
            raise BadInput("--direction is for one generator file; a checkpoints folder gives both directions")
        pair = [_newest(path, "A"), _newest(path, "B")]
        convs = [convert_junyanz(p) for p in pair]
        a, b = (c.net_kwargs for c in convs)
        if {**b, "in_ch": b["out_ch"], "out_ch": b["in_ch"]} != a:
            raise BadInput(f"{pair[0].name} and {pair[1].name} are different networks; convert them one by one")
        tensors = {f"G_{d}.{k}": v for d, c in zip("AB", convs) for k, v in c.tensors.items()}
        return _junyanz_checkpoint("cyclegan", a, tensors, [c.source for c in convs])
    conv = convert_junyanz(path, direction, family="pix2pix")
    tensors = {f"G.{k}": v for k, v in conv.tensors.items()}
    return _junyanz_checkpoint("pix2pix", conv.net_kwargs, tensors, [conv.source])


def _newest(folder: Path, side: str) -> Path:
    """latest_net_G_<side>.pth, else the highest-numbered epoch's."""
    latest = folder / f"latest_net_G_{side}.pth"
    if latest.is_file():
        return latest
    found = sorted(folder.glob(f"*_net_G_{side}.pth"), key=lambda p: (p.name.split("_")[0].isdigit(), p.name))
    if not found:
        raise BadInput(f"{folder}: no *_net_G_{side}.pth (a CycleGAN checkpoints folder holds G_A and G_B)")
    return found[-1]


def _junyanz_checkpoint(family: str, kw: dict[str, Any], tensors: dict, sources: list[dict]) -> Converted:
    from gan_cli.models.pix2pix import GENERATORS
    from gan_cli.registry import get_family

    if kw["name"] not in GENERATORS:
        raise BadInput(f"a {kw['name']} generator: gan-cli's {family} has netG {', '.join(GENERATORS)}")
    fam = get_family(family)
    # What junyanz's test.py does: train mode. It differs from eval only with BatchNorm or dropout.
    mode = "reference" if kw["norm"] == "batch" or kw["use_dropout"] else "eval"
    base = {k: v for k, v in dataclasses.asdict(fam.Options()).items()}
    options = {**base, "netG": kw["name"], "ngf": kw["ngf"], "norm": kw["norm"], "no_dropout": not kw["use_dropout"]}
    options["test_mode"] = mode
    if family == "cyclegan" and kw["in_ch"] != kw["out_ch"]:
        options["lambda_identity"] = 0.0
    detected = sources[0]["detected"]
    source = {"format": "junyanz", "files": sources, "test_mode": mode}
    summary = f"{detected} -> {family} checkpoint (test mode {mode})"
    return Converted(family, options, 256, kw["out_ch"], kw["in_ch"], tensors, source, summary)


def _rosinality_sniff(path: Path) -> bool:
    from gan_cli.convert import pickle_head

    return path.is_file() and path.suffix in (".pt", ".pth") and b"style.1.weight" in pickle_head(path)


def _stylegan2_convert(path: Path, direction: str | None, source: str) -> Converted:
    """A rosinality .pt or NVlabs .pkl StyleGAN2 generator -> a stylegan2 checkpoint (G with its mean w)."""
    from gan_cli.convert.stylegan2 import convert_stylegan2

    if direction is not None:
        raise BadInput("--direction is for translation models; a StyleGAN2 generator has none")
    return _stylegan2_checkpoint(convert_stylegan2(path, source), path, source)


def _stylegan2_checkpoint(conv: Any, path: Path, source: str) -> Converted:
    """A converted StyleGAN2 generator (gan_cli.convert.stylegan2.Converted) -> a stylegan2 checkpoint."""
    import torch

    from gan_cli.registry import get_family

    kw = conv.net_kwargs
    if list(kw.get("blur_kernel", [1, 3, 3, 1])) != [1, 3, 3, 1]:
        raise BadInput(f"{path}: a resampling filter of {kw['blur_kernel']}; gan-cli's stylegan2 uses [1, 3, 3, 1]")
    base = dataclasses.asdict(get_family("stylegan2").Options())
    options = {
        **base,
        "style_dim": kw["style_dim"],
        "n_mlp": kw["n_mlp"],
        "lr_mlp": float(kw.get("lr_mlp", 0.01)),
        "channel_multiplier": kw.get("channel_multiplier", 2),
        "channel_base": kw.get("channel_base", 0),
        "channel_max": kw.get("channel_max", base["channel_max"]),
        "z_dim": kw.get("z_dim") or 0,
        "conv_clamp": float(kw.get("conv_clamp") or 0.0),
    }
    tensors = {f"G.{k}": v for k, v in conv.tensors.items()}
    w_avg = conv.extra.get("w_avg")
    if w_avg is None:  # a training checkpoint without latent_avg: the mean of w over 10,000 z, as rosinality does
        from gan_cli.nets.stylegan2 import Generator

        g = Generator(**kw)
        g.load_state_dict(conv.tensors)
        w_avg = g.mean_latent(10_000, torch.Generator().manual_seed(0))[0]
        conv.source["w_avg"] = "mean of w over 10,000 random z (seed 0): the file has no latent_avg"
    tensors["G.w_avg"] = w_avg.float()
    channels = kw.get("img_channels", 3)
    summary = f"{source} StyleGAN2 {kw['size']} px, w {kw['style_dim']}, {kw['n_mlp']}-layer mapping -> stylegan2"
    return Converted("stylegan2", options, kw["size"], channels, channels, tensors, conv.source, summary)


def _ugatit_sniff(path: Path) -> bool:
    from gan_cli.convert import pickle_head

    return path.is_file() and path.suffix in (".pt", ".pth") and b"genA2B" in pickle_head(path)


def _ugatit_convert(path: Path, direction: str | None) -> Converted:
    """U-GAT-IT's `*_params_*.pt` or minivision's `photo2cartoon_weights.pt`: genA2B (and genB2A if present)."""
    from gan_cli.convert.ugatit import convert_ugatit

    if direction is not None:
        raise BadInput("--direction: a U-GAT-IT checkpoint keeps genA2B (AtoB) and genB2A (BtoA) as they are")
    first = convert_ugatit(path, "genA2B")
    convs = [first] + ([convert_ugatit(path, "genB2A")] if "genB2A" in first.source["nets_in_file"] else [])
    return _ugatit_checkpoint(convs)


def _ugatit_checkpoint(convs: list) -> Converted:
    """Converted U-GAT-IT / photo2cartoon generators (gan_cli.convert.ugatit.Converted) -> one checkpoint."""
    from gan_cli.registry import get_family

    first = convs[0]
    kw, fam = first.net_kwargs, first.family
    options = dataclasses.asdict(get_family(fam).Options())
    options.update(ngf=kw["ngf"], light=kw["light"])
    if fam == "ugatit":
        options["n_res"] = kw["n_blocks"]
    channels, in_channels = kw.get("output_nc", 3), kw.get("input_nc", 3)
    tensors = {f"{c.source['which']}.{k}": v for c in convs for k, v in c.tensors.items()}
    source = {"format": fam, **first.source, "which": [c.source["which"] for c in convs]}
    what = " and ".join(c.source["which"] for c in convs)
    summary = f"{fam} generator(s) {what}, ngf {kw['ngf']}, {'light' if kw['light'] else 'full'} -> {fam}"
    return Converted(fam, options, kw["img_size"], channels, in_channels, tensors, source, summary)


def _paddle_convert(path: Path, direction: str | None) -> Converted:
    """A PaddleGAN .pdparams (StyleGANv2Generator, or a photo2cartoon / U-GAT-IT genA2B) -> its family."""
    from gan_cli.convert import paddle

    if direction is not None:
        raise BadInput("--direction: a PaddleGAN generator file is read as it is (genA2B: AtoB)")
    family = paddle.detect(paddle.load_pdparams(path), path)
    if family == "stylegan2":
        return _stylegan2_checkpoint(paddle.convert_stylegan2(path), path, "paddle")
    conv = _ugatit_checkpoint([paddle.convert_generator(path, family)])
    conv.source["format"] = f"paddle ({family})"
    return conv
def _dcgan_sniff(path: Path) -> bool:
    from gan_cli.convert import pickle_head

    return path.is_file() and path.suffix in (".pt", ".pth") and b"main.0.weight" in pickle_head(path)


def _dcgan_convert(path: Path, direction: str | None) -> Converted:
    """pytorch/examples' or the PyTorch tutorial's netG state dict -> a dcgan checkpoint."""
    from gan_cli.convert.dcgan import convert_dcgan, summary
    from gan_cli.registry import get_family

    if direction is not None:
        raise BadInput("--direction is for translation models; a DCGAN generator has none")
    s, tensors, source = convert_dcgan(path)
    options = {**dataclasses.asdict(get_family("dcgan").Options()), "z_dim": s["z_dim"], "ngf": s["ngf"]}
    channels = s["channels"]
    return Converted("dcgan", options, s["size"], channels, channels, tensors, source, f"{summary(s)} -> dcgan")


# format name -> (sniff, convert); sniffed in this order when --from is not given
FORMATS: dict[str, tuple[Callable[[Path], bool], Callable[[Path, str | None], Converted]]] = {
    "rosinality": (_rosinality_sniff, lambda p, d: _stylegan2_convert(p, d, "rosinality")),
    "nvlabs": (lambda p: p.is_file() and p.suffix == ".pkl", lambda p, d: _stylegan2_convert(p, d, "nvlabs")),
    "ugatit": (_ugatit_sniff, _ugatit_convert),
    "dcgan": (_dcgan_sniff, _dcgan_convert),  # before junyanz, which takes any other .pth
    "junyanz": (_junyanz_sniff, _junyanz_convert),
    "paddle": (lambda p: p.is_file() and p.suffix == ".pdparams", _paddle_convert),
}


def convert(src: Path, dst: Path, fmt: str | None = None, direction: str | None = None) -> Converted:
    """Convert SRC (format `fmt`, or sniffed) and write DST; return what was written."""
    from gan_cli.io import checkpoint as ckpt
    from gan_cli.registry import get_family, parse_options
    from gan_cli.sampling import load_model
    from gan_cli.train.state import model_meta

    if dst.suffix != ".safetensors":
        raise BadInput(f"{dst}: use a .safetensors file name")
    if not src.exists():
        raise BadInput(f"{src}: no such file or folder")
    if fmt is None:
        fmt = next((name for name, (sniff, _) in FORMATS.items() if sniff(src)), None)
        if fmt is None:
            raise BadInput(f"{src}: cannot tell its format; give --from ({', '.join(FORMATS)})")
    elif fmt not in FORMATS:
        raise BadInput(f"--from {fmt}: unknown format (known: {', '.join(FORMATS)})")
    conv = FORMATS[fmt][1](src, direction)
    cls = get_family(conv.family)
    family = cls(parse_options(cls, None, conv.options), conv.size, conv.channels, 0, conv.in_channels)
    meta = model_meta(family, conv.options, [], 0, f"converted from {src.name}")
    ckpt.save(dst, conv.tensors, {**meta, "kind": "generator", "source": conv.source})
    load_model(dst)  # the file must rebuild and load strictly, as translate will do
    return conv


def register(app: typer.Typer) -> None:
    app.command("convert", help=HELP, no_args_is_help=True)(convert_cmd)


def convert_cmd(
    src: Path = typer.Argument(..., help="Checkpoint file (or checkpoints folder) of another project."),
    dst: Path = typer.Argument(..., help="Output .safetensors file."),
    fmt: str = typer.Option(
        None, "--from", help="Source format: rosinality, nvlabs, ugatit, dcgan, junyanz or paddle (default: guessed)."
    ),
    direction: str = typer.Option(None, "--direction", help="AtoB or BtoA: what the generator maps (recorded)."),
) -> None:
    conv = convert(src, dst, fmt, direction)
    console.info(conv.summary)
    console.out(str(dst))
