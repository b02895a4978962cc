"""pix2pix and CycleGAN: losses against the reference's formulas, the lr schedule, image pools, test modes,
exact resume with pools and identity loss, and clear errors for data and options that cannot work.
(tests/test_families.py runs both through build, one step, reload and resume from their tiny options.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import make_folder
from safetensors.torch import load_file

from gan_cli.errors import BadInput
from gan_cli.io.datasets import load_data
from gan_cli.models.pix2pix import layout_of, lr_scale, run_generator
from gan_cli.registry import Context, get_family, parse_options
from gan_cli.train.config import TrainConfig
from gan_cli.train.loop import Trainer

CONTIG = torch.contiguous_format


def family(name: str, *pairs: str, size: int = 32, channels: int = 3, in_channels: int = 3):
    cls = get_family(name)
    opts = parse_options(cls, [f"{k}={v}" for k, v in cls.tiny.items()] + list(pairs))
    fam = cls(opts, size, channels, 0, in_channels)
    torch.manual_seed(0)
    fam.build()
    return fam


def batch(n: int = 2, size: int = 32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return {k: torch.rand(n, 3, size, size, generator=g) * 2 - 1 for k in ("A", "B")}


@pytest.mark.parametrize("mode", ["vanilla", "lsgan"])
def test_pix2pix_losses_are_the_references(mode):
    """D: 0.5 * (GANLoss(D(A, G(A)), False) + GANLoss(D(A, B), True)); G: GANLoss(D(A, G(A)), True) + 100 L1."""
    fam, b, ctx = family("pix2pix", f"gan_mode={mode}"), batch(), Context()
    crit = torch.nn.BCEWithLogitsLoss() if mode == "vanilla" else torch.nn.MSELoss()
    d = fam.d_step(b, ctx)
    fake = ctx.cache["fake"]
    with torch.no_grad():
        pf, pr = fam.nets["D"](torch.cat([b["A"], fake], 1)), fam.nets["D"](torch.cat([b["A"], b["B"]], 1))
        want_d = 0.5 * (crit(pf, torch.zeros_like(pf)) + crit(pr, torch.ones_like(pr)))
    assert d["loss"].item() == pytest.approx(want_d.item(), rel=1e-5)
    g = fam.g_step(b, ctx)
    with torch.no_grad():
        want_g = crit(pf, torch.ones_like(pf)) + 100 * F.l1_loss(fake, b["B"])
    assert g["loss"].item() == pytest.approx(want_g.item(), rel=1e-5)
    assert g["L1"].item() == pytest.approx(100 * F.l1_loss(fake, b["B"]).item(), rel=1e-5)


def test_cyclegan_losses_are_the_references():
    fam, b, ctx = family("cyclegan", "lambda_identity=0.5", "pool_size=0"), batch(), Context()
    n, mse, l1 = fam.nets, torch.nn.MSELoss(), F.l1_loss
    g = fam.g_step(b, ctx)
    with torch.no_grad():
        A, B = b["A"], b["B"]
        fB, fA = n["G_A"](A), n["G_B"](B)
        pa, pb = n["D_A"](fB), n["D_B"](fA)
        want = (
            mse(pa, torch.ones_like(pa))
            + mse(pb, torch.ones_like(pb))
            + 10 * l1(n["G_B"](fB), A)
            + 10 * l1(n["G_A"](fA), B)
            + 0.5 * 10 * l1(n["G_A"](B), B)
            + 0.5 * 10 * l1(n["G_B"](A), A)
        )
    assert g["loss"].item() == pytest.approx(want.item(), rel=1e-5)
    d = fam.d_step(b, ctx)
    with torch.no_grad():
        ra, fa = n["D_A"](B), n["D_A"](fB)
        rb, fb = n["D_B"](A), n["D_B"](fA)
        want_d = 0.5 * (mse(ra, torch.ones_like(ra)) + mse(fa, torch.zeros_like(fa)))
        want_d += 0.5 * (mse(rb, torch.ones_like(rb)) + mse(fb, torch.zeros_like(fb)))
    assert d["loss"].item() == pytest.approx(want_d.item(), rel=1e-5)


def test_linear_decay_is_the_references_epoch_rule_in_steps():
    """lambda_rule(epoch) = 1 - max(0, epoch + 1 - n_epochs) / (n_epochs_decay + 1), with steps for epochs."""

    def scale(step, total, n=0, d=0):
        return lr_scale(Context(step=step, total_steps=total), n, d)

    assert [scale(s, 10) for s in range(10)] == pytest.approx([1, 1, 1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6])
    assert [scale(s, 100, 3, 2) for s in (0, 2, 3, 4, 5, 50)] == pytest.approx([1, 1, 2 / 3, 1 / 3, 0, 0])
    assert scale(7, 10, 0, 4) == pytest.approx(1 - 2 / 5)  # decay only: the constant part is the rest


def test_schedule_sets_the_learning_rates_in_training(tmp_path):
    t = trainer(tmp_path, "pix2pix", 4)
    lrs = []
    for _ in range(4):
        t.train_step()
        lrs += [g["lr"] for o in t.optims.values() for g in o.param_groups]  # G's, then D's
    assert lrs == pytest.approx([1e-3] * 4 + [1e-3 * 2 / 3] * 2 + [1e-3 / 3] * 2)


def test_image_pool_follows_the_reference_rule():
    fam = family("cyclegan", "pool_size=3")
    fam.rng.manual_seed(1)
    fakes = [torch.full((2, 3, 32, 32), float(i)) for i in range(6)]
    first = fam.query("pool_B", fakes[0])
    assert torch.equal(first, fakes[0]) and fam.state["pool_B"].shape[0] == 2
    out = fam.query("pool_B", fakes[1])  # one fills the pool, the next is returned or swapped
    assert out[0, 0, 0, 0] == 1 and fam.state["pool_B"].shape[0] == 3
    returned = [fam.query("pool_B", f)[:, 0, 0, 0].tolist() for f in fakes[2:]]
    values = sum(returned, [])
    assert any(v < k for v, k in zip(values, [2, 2, 3, 3, 4, 4, 5, 5]))  # some came out of the pool
    assert any(v == k for v, k in zip(values, [2, 2, 3, 3, 4, 4, 5, 5]))  # some went straight through
    assert fam.state["pool_B"].shape == (3, 3, 32, 32)
    again = family("cyclegan", "pool_size=3")
    again.rng.manual_seed(1)
    for f in fakes[:2]:
        again.query("pool_B", f)
    assert [again.query("pool_B", f)[:, 0, 0, 0].tolist() for f in fakes[2:]] == returned  # seeded: reproducible


def trainer(tmp_path: Path, name: str, steps: int, *pairs: str, run: str = "run", same_channels: bool = True):
    cls = get_family(name)
    opts = parse_options(cls, [f"{k}={v}" for k, v in cls.tiny.items()] + list(pairs))
    a = make_folder(tmp_path / "A", n=6, size=32, mode="RGB" if same_channels else "L")
    b = make_folder(tmp_path / "B", n=6, size=32, seed=1)
    cfg = TrainConfig(
        model=name, data=str(a), data_b=str(b), options=vars(opts), size=32, steps=steps, batch_size=2, lr=1e-3,
        amp="off", sample_every=steps, ckpt_every=1000, log_every=1, load_size=36, flip=True,
    )  # fmt: skip
    data = load_data(str(a), 36, cls.task, str(b))
    return Trainer(cfg, data, tmp_path / run, torch.device("cpu"), quiet=True)


def test_cyclegan_resume_is_exact_with_identity_loss_pools_and_crops(tmp_path):
    full = trainer(tmp_path, "cyclegan", 3, "lambda_identity=0.5", "pool_size=3", run="full")
    full.run()
    half = trainer(tmp_path, "cyclegan", 3, "lambda_identity=0.5", "pool_size=3", run="half")
    half.train_step()
    half.train_step()
    half.save(final=False)
    assert half.family.state["pool_A"].shape[0] == 3  # full after two steps of two: the next ones draw
    rest = trainer(tmp_path, "cyclegan", 3, "lambda_identity=0.5", "pool_size=3", run="half")
    rest.restore(tmp_path / "half" / "checkpoints" / "step-0000002.safetensors")
    rest.run()
    a = load_file(str(tmp_path / "full" / "checkpoints" / "step-0000003.safetensors"))
    b = load_file(str(tmp_path / "half" / "checkpoints" / "step-0000003.safetensors"))
    assert {"state.pool_A", "state.pool_B"} <= a.keys() and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_identity_loss_needs_matching_channels(tmp_path):
    with pytest.raises(BadInput, match="A has 1, B has 3.*lambda_identity=0"):
        trainer(tmp_path, "cyclegan", 1, "lambda_identity=0.5", same_channels=False)


def test_generator_and_size_must_fit():
    cls = get_family("pix2pix")
    with pytest.raises(BadInput, match="netG unet_256 needs a size that is a multiple of 256, not 64"):
        cls(parse_options(cls, []), 64, 3)
    with pytest.raises(BadInput, match="supports image sizes"):
        cls(parse_options(cls, ["netG=resnet_6blocks"]), 100, 3)


def test_test_modes_leave_the_net_as_it_was():
    fam = family("pix2pix", "norm=batch", "ngf=4")
    G = fam.nets["G"].train()
    for m in G.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    stats = {k: v.clone() for k, v in G.state_dict().items()}
    x = batch(3)["A"]
    with torch.no_grad():
        torch.manual_seed(5)
        ref = run_generator(G, x, "reference", CONTIG)
        torch.manual_seed(5)
        one_by_one = torch.cat([run_generator(G, x[i : i + 1], "reference", CONTIG) for i in range(3)])
        ev = run_generator(G, x, "eval", CONTIG)
        ev_single = run_generator(G, x[1:2], "eval", CONTIG)
    assert torch.equal(ref, one_by_one)  # per-image statistics: batching does not change it
    assert all(m.training for m in G.modules())  # flags put back
    assert all(torch.equal(v, stats[k]) for k, v in G.state_dict().items() if "num_batches" not in k)
    assert (ev[1:2] - ev_single).abs().max() < 1e-5 and not torch.allclose(ev, ref)


def test_translate_directions(tmp_path):
    fam = family("cyclegan")
    x = batch(2)["A"]
    with torch.no_grad():
        assert torch.equal(fam.translate(fam.nets, x, "AtoB"), run_generator(fam.nets["G_A"], x, "eval", CONTIG))
        assert torch.equal(fam.translate(fam.nets, x, "BtoA"), run_generator(fam.nets["G_B"], x, "eval", CONTIG))
    assert family("pix2pix").directions() == ("AtoB",)


def test_train_cli_errors_name_unpaired_files_and_empty_domains(cli, tmp_path):
    a = make_folder(tmp_path / "p" / "A", n=3, size=32)
    b = make_folder(tmp_path / "p" / "B", n=3, size=32)
    (b / "img001.png").rename(b / "other.png")
    r = cli("train", "pix2pix", "--data", tmp_path / "p", "--size", "32", "-o", "netG=unet_32", "--out", tmp_path / "r")
    assert r.code == 2 and "img001" in r.err and "other" in r.err and "no partner" in r.err, r.err
    assert a.exists()
    (tmp_path / "u" / "trainA").mkdir(parents=True)
    make_folder(tmp_path / "u" / "trainB", n=3, size=32)
    r = cli("train", "cyclegan", "--data", tmp_path / "u", "--size", "32", "--out", tmp_path / "r2")
    assert r.code == 2 and "trainA: no images found" in r.err, r.err


def test_previews_run_in_eval_mode_and_keep_the_training_layout():
    fam = family("pix2pix", "test_mode=reference", "netG=resnet_3blocks")
    for net in fam.nets.values():
        net.to(memory_format=torch.channels_last).train()
    b = batch(2)
    grid, cols = fam.preview(fam.inference_nets(), b)
    assert cols == 3 and grid.shape == (6, 3, 32, 32)
    assert layout_of(fam.nets["G"]) == torch.channels_last and fam.nets["G"].training
    with torch.no_grad():
        want = run_generator(fam.nets["G"], b["A"], "eval", torch.contiguous_format)
    assert torch.equal(grid[1::3], want)
