"""photo2cartoon's face-ID term in training (-o id_model): on only with the option, added as the reference adds
it (weight x mean face-ID distance of each domain's reals to their translations), recorded, resumable."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import make_folder
from safetensors.torch import load_file
from test_mobilefacenet import reference_keys, synthetic_state_dict

from gan_cli.io.datasets import load_data
from gan_cli.models.ugatit import DISCRIMINATORS, GENERATORS
from gan_cli.registry import Context, get_family, parse_options
from gan_cli.train.config import TrainConfig
from gan_cli.train.loop import Trainer

TINY = [f"{k}={v}" for k, v in get_family("photo2cartoon").tiny.items()]


@pytest.fixture(scope="module")
def id_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("faceid") / "model_mobilefacenet.pth"
    torch.save(synthetic_state_dict(reference_keys()), path)
    return path


def _family(pairs: list[str]):
    cls = get_family("photo2cartoon")
    fam = cls(parse_options(cls, TINY + pairs), 32, 3, 0, 3)
    fam.build()
    fam.prepare_training(torch.device("cpu"))
    return fam


def _g_grads(fam, batch) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    for net in fam.nets.values():
        net.zero_grad(set_to_none=True)
    losses = fam.g_loss(batch, Context(total_steps=10, batch_size=2))
    losses["loss"].backward()
    return losses, _grads(fam)


def _grads(fam) -> list[torch.Tensor]:
    """G's gradients (zero for the hourglasses' unused ConvBlock4 projections)."""
    return [
        torch.zeros_like(p) if p.grad is None else p.grad.clone() for n in GENERATORS for p in fam.nets[n].parameters()
    ]


def _batch(n: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {k: torch.rand(n, 3, 32, 32, generator=g) * 2 - 1 for k in ("A", "B")}


def test_the_term_is_added_as_the_reference_adds_it(id_model):
    torch.manual_seed(0)
    fam = _family([f"id_model={id_model}", "faceid_weight=3"])
    for name in DISCRIMINATORS:
        fam.nets[name].eval()  # no spectral-norm power iteration: every G loss below sees the same D
    batch = _batch()
    with_term, grads_on = _g_grads(fam, batch)
    assert all(torch.isfinite(v).all() for v in with_term.values()) and float(with_term["faceid"]) > 0.01
    face_id, fam.face_id = fam.face_id, None
    without, grads_off = _g_grads(fam, batch)
    assert "faceid" not in without
    changed = sum(not torch.equal(on, off) for on, off in zip(grads_on, grads_off))
    assert changed > len(grads_on) // 2  # the term reaches most of G's weights
    # The term on its own, from the same (deterministic) generator passes: the reference's G_id_loss_A compares
    # real A with A2B, G_id_loss_B real B with B2A; each is added with faceid_weight to its domain's G loss.
    a2b, _, _ = fam.nets["genA2B"](batch["A"])
    b2a, _, _ = fam.nets["genB2A"](batch["B"])
    term = face_id(batch["A"], a2b).mean() + face_id(batch["B"], b2a).mean()
    torch.testing.assert_close(with_term["faceid"], term.detach())
    torch.testing.assert_close(with_term["loss"], without["loss"] + 3 * term.detach())


def test_the_term_alone_gives_its_own_gradient(id_model):
    """With every other weight 0, G's gradient is the face-ID term's (the other terms' gradients reach 1e8 at
    random init, so the difference of two full gradients cannot show it to a useful precision)."""
    zero = ["adv_weight=0", "cycle_weight=0", "identity_weight=0", "cam_weight=0"]
    torch.manual_seed(0)
    fam = _family([f"id_model={id_model}", "faceid_weight=3", *zero])
    batch = _batch()
    losses, grads = _g_grads(fam, batch)
    for net in fam.nets.values():
        net.zero_grad(set_to_none=True)
    a2b, _, _ = fam.nets["genA2B"](batch["A"])
    b2a, _, _ = fam.nets["genB2A"](batch["B"])
    (3 * (fam.face_id(batch["A"], a2b).mean() + fam.face_id(batch["B"], b2a).mean())).backward()
    assert sum(bool(g.abs().sum() > 0) for g in grads) > len(grads) // 2
    for got, want in zip(grads, _grads(fam)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    torch.manual_seed(0)
    off = _family(zero)
    assert float(off.g_loss(batch, Context(total_steps=10, batch_size=2))["loss"].detach()) == 0.0


def test_the_term_is_off_without_the_option():
    fam = _family([])
    assert fam.face_id is None and fam.opts.id_model == ""
    assert "faceid" not in fam.g_loss(_batch(1), Context(total_steps=10, batch_size=1))
    assert get_family("photo2cartoon").notes({"id_model": ""}) == ["face-ID loss off (no -o id_model)"]


def _trainer(tmp_path: Path, run: str, steps: int, id_model: Path) -> Trainer:
    a = make_folder(tmp_path / "A", n=4, size=32, mode="L")  # a gray domain goes in as RGB
    b = make_folder(tmp_path / "B", n=4, size=32, seed=1)
    cls = get_family("photo2cartoon")
    cfg = TrainConfig(
        model="photo2cartoon", data=str(a), options=vars(parse_options(cls, TINY + [f"id_model={id_model}"])),
        size=32, steps=steps, batch_size=1, lr=1e-3, amp="off", sample_every=steps, ckpt_every=1000, log_every=1,
    )  # fmt: skip
    return Trainer(cfg, load_data(str(a), 32, "unpaired", str(b)), tmp_path / run, torch.device("cpu"), quiet=True)


def test_resume_with_the_term_is_bit_identical(tmp_path, id_model):
    _trainer(tmp_path, "full", 2, id_model).run()
    half = _trainer(tmp_path, "half", 2, id_model)
    half.train_step()
    half.save(final=False)
    rest = _trainer(tmp_path, "half", 2, id_model)
    rest.restore(tmp_path / "half" / "checkpoints" / "step-0000001.safetensors")
    rest.run()
    a = load_file(str(tmp_path / "full" / "checkpoints" / "step-0000002.safetensors"))
    b = load_file(str(tmp_path / "half" / "checkpoints" / "step-0000002.safetensors"))
    assert a.keys() == b.keys() and not any(k.startswith("face") or ".net.conv1" in k for k in a)  # not saved
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert '"G/faceid"' in (tmp_path / "full" / "metrics.jsonl").read_text()


def test_cli_records_the_term_and_refuses_bad_files(cli, tmp_path, id_model):
    a = make_folder(tmp_path / "A", n=2, size=32)
    b = make_folder(tmp_path / "B", n=2, size=32, seed=1)
    args = ["train", "photo2cartoon", "--data", a, "--data-b", b, "--size", "32", "--steps", "1", "--quiet"]
    args += [x for pair in TINY for x in ("-o", pair)]
    r = cli(*args, "--out", tmp_path / "on", "-o", f"id_model={id_model}")
    assert r.code == 0, r.err
    info = cli("info", r.out.strip().splitlines()[-1])
    assert f"note       face-ID loss on: weight 1.0, MobileFaceNet from {id_model}" in info.out
    r = cli(*args, "--out", tmp_path / "off")
    assert "note       face-ID loss off (no -o id_model)" in cli("info", r.out.strip().splitlines()[-1]).out
    r = cli(*args, "--out", tmp_path / "missing", "-o", f"id_model={tmp_path / 'nope.pth'}")
    assert r.code == 2 and f"-o id_model: {tmp_path / 'nope.pth'}: no such file" in r.err
    (tmp_path / "bad.pth").write_bytes(b"PK\x03\x04 truncated zip")
    r = cli(*args, "--out", tmp_path / "corrupt", "-o", f"id_model={tmp_path / 'bad.pth'}")
    assert r.code == 2 and "not a readable PyTorch .pth file" in r.err
    assert not (tmp_path / "missing").exists() and not (tmp_path / "corrupt").exists()  # no run folder left
