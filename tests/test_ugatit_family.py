"""What is particular to the ugatit and photo2cartoon families (the contract tests in test_families.py cover
build, shapes, one step, reload and resume): training matches the official code step for step, the logged
loss terms, rho and blend-weight clipping, the lr schedule, mixed gray/RGB domains and clear option errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import make_folder
from safetensors.torch import load_file

from gan_cli.errors import BadInput
from gan_cli.io.datasets import load_data
from gan_cli.models.ugatit import linear_decay
from gan_cli.registry import Context, get_family, parse_options
from gan_cli.train.config import TrainConfig
from gan_cli.train.loop import Trainer

GOLDEN = Path(__file__).parent / "data" / "ugatit_train" / "two_steps.safetensors"


def _family(name: str, pairs: list[str], size: int = 32, channels: int = 3, in_channels: int = 3):
    cls = get_family(name)
    fam = cls(parse_options(cls, pairs), size, channels, 0, in_channels)
    fam.build()
    return fam


def _tiny(name: str, **kw):
    return _family(name, [f"{k}={v}" for k, v in get_family(name).tiny.items()], **kw)


def test_two_training_steps_match_the_official_code():
    """Same weights and batches as znxlwm/UGATIT-pytorch's train() (tests/data/ugatit_train/README.md):
    the D and G losses and every weight after two steps (Adam moments, spectral-norm vectors, rho clipping)."""
    golden = load_file(str(GOLDEN))
    fam = _family("ugatit", ["light=true", "ngf=2", "n_res=1", "ndf=2", "d_global_layers=4", "d_local_layers=3"])
    for name, net in fam.nets.items():
        net.load_state_dict({k[len(f"init.{name}.") :]: v for k, v in golden.items() if k.startswith(f"init.{name}.")})
        net.train()
    optims = fam.optimizers(1e-4)
    g = torch.Generator().manual_seed(1)
    for step in range(2):
        batch = {"A": torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, "B": torch.rand(2, 3, 32, 32, generator=g) * 2 - 1}
        ctx = Context(step=step, total_steps=1000, batch_size=2)
        assert fam.schedule(ctx).lr_scale == 1.0
        for phase in fam.phases():
            frozen = [p for n in phase.freeze for p in fam.nets[n].parameters()]
            for p in frozen:
                p.requires_grad_(False)
            optims[phase.opt].zero_grad()
            losses = phase.loss(batch, ctx)
            losses["loss"].backward()
            optims[phase.opt].step()
            if phase.after_step:
                phase.after_step()
            for p in frozen:
                p.requires_grad_(True)
            torch.testing.assert_close(losses["loss"].reshape(1), golden[f"loss{step}.{phase.name}"], rtol=1e-6, atol=0)
    worst = 0.0
    for name, net in fam.nets.items():
        for k, v in net.state_dict().items():
            worst = max(worst, float((v - golden[f"final.{name}.{k}"]).abs().max()))
    print("max abs diff to the reference after two steps:", worst)
    assert worst < 1e-6, worst


def test_loss_terms_are_logged(tmp_path):
    a = make_folder(tmp_path / "A", n=4, size=32, mode="L")  # a gray domain and an RGB one
    b = make_folder(tmp_path / "B", n=4, size=32, seed=1)
    cls = get_family("ugatit")
    cfg = TrainConfig(
        model="ugatit", data=str(a), options=vars(parse_options(cls, [f"{k}={v}" for k, v in cls.tiny.items()])),
        size=32, steps=1, batch_size=2, amp="off", sample_every=1, ckpt_every=1, log_every=1,
    )  # fmt: skip
    Trainer(cfg, load_data(str(a), 32, "unpaired", str(b)), tmp_path / "run", torch.device("cpu"), quiet=True).run()
    row = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1]
    for key in ("D/loss", "D/loss_A", "D/loss_B", "G/loss", "G/adv", "G/cycle", "G/identity", "G/cam"):
        assert f'"{key}"' in row, key


@pytest.mark.parametrize("name", ["ugatit", "photo2cartoon"])
def test_clipping_after_each_generator_step(name):
    fam = _tiny(name)
    with torch.no_grad():
        for gen in ("genA2B", "genB2A"):
            for k, p in fam.nets[gen].named_parameters():
                if k.endswith(("rho", "w_gamma", "w_beta")):
                    p.copy_(torch.linspace(-2, 3, p.numel()).view_as(p))
    (g_phase,) = [p for p in fam.phases() if p.name == "G"]
    assert g_phase.opt == "G" and g_phase.after_step is not None
    g_phase.after_step()
    seen = 0
    for gen in ("genA2B", "genB2A"):
        for k, p in fam.nets[gen].named_parameters():
            if k.endswith(("rho", "w_gamma", "w_beta")):
                seen += 1
                assert p.min() == 0 and p.max() == 1, k
    assert seen > 0


def test_photo2cartoon_clip_limits_are_options():
    fam = _family("photo2cartoon", ["ngf=4", "ndf=2", "d_global_layers=4", "d_local_layers=3", "rho_clip=0.5",
                                    "w_clip=0.25"])  # fmt: skip
    block = fam.nets["genA2B"].DecodeBlock1.norm1
    with torch.no_grad():
        block.norm.rho.fill_(0.9)
        block.w_gamma.fill_(0.9)
    fam.clip()
    assert float(block.norm.rho.detach().max()) == 0.5 and float(block.w_gamma.detach().max()) == 0.25


def test_lr_decay_is_the_reference_schedule():
    """The reference subtracts lr / (iterations // 2) from the lr at every iteration past the half."""
    total, lr = 10, 1.0
    for step in range(1, total + 1):  # the reference's 1-based iterations
        if step > total // 2:
            lr -= 1.0 / (total // 2)
        assert linear_decay(step - 1, total) == pytest.approx(lr, abs=1e-12)
    assert linear_decay(0, 1) == 1.0
    fam = _tiny("ugatit")
    assert fam.schedule(Context(step=7, total_steps=10)).lr_scale == pytest.approx(0.4)
    fam.opts.decay = False
    assert fam.schedule(Context(step=7, total_steps=10)).lr_scale == 1.0


def test_optimizers_cover_both_generators_and_all_discriminators():
    fam = _tiny("ugatit")
    optims = fam.optimizers(1e-4)
    assert set(optims) == {"G", "D"}
    owned = {k: {id(p) for g in o.param_groups for p in g["params"]} for k, o in optims.items()}
    for net, key in (("genA2B", "G"), ("genB2A", "G"), *((d, "D") for d in ("disGA", "disGB", "disLA", "disLB"))):
        assert {id(p) for p in fam.nets[net].parameters()} <= owned[key], net
    group = optims["G"].param_groups[0]
    assert group["betas"] == (0.5, 0.999) and group["weight_decay"] == 1e-4


def test_gray_and_rgb_domains_translate_both_ways():
    for name in ("ugatit", "photo2cartoon"):
        fam = _tiny(name, channels=3, in_channels=1)
        with torch.no_grad():
            a2b = fam.translate(fam.inference_nets(), torch.zeros(2, 1, 32, 32), "AtoB")
            b2a = fam.translate(fam.inference_nets(), torch.zeros(2, 3, 32, 32), "BtoA")
        assert a2b.shape == (2, 3, 32, 32) and b2a.shape == (2, 1, 32, 32), name


def test_discriminator_depth_must_fit_the_size():
    with pytest.raises(BadInput, match=r"needs images of at least 96 px, not 64: use -o d_global_layers=6"):
        _family("ugatit", ["light=true", "ngf=2", "ndf=2"], size=64)
