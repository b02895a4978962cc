"""The family contract, tested with fake families and no real training: phases with intervals, a shared
optimizer over two nets, EMA against a hand computation, schedules, family state and exact resume."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from helpers import make_folder
from safetensors.torch import load_file
from torch import nn

from gan_cli.io.checkpoint import optimizer_tensors
from gan_cli.io.datasets import load_data
from gan_cli.registry import EMA, FAMILIES, Family, Phase, Schedule
from gan_cli.train.config import TrainConfig
from gan_cli.train.loop import Trainer

B = 4  # batch size


@dataclass
class NoOptions:
    pass


class FakeNoise(Family):
    """G: z -> 1x8x8 image; D scores images; R is trained only by the lazy phase; H shares G's optimizer."""

    name = "fake-noise"
    Options = NoOptions
    sizes = (8,)
    calls: list[tuple[str, int, int]]  # (phase, step, seen) of every loss call

    def build(self):
        self.calls = []
        self.nets = {"G": nn.Linear(4, 64), "H": nn.Linear(4, 4), "D": nn.Linear(64, 1), "R": nn.Linear(64, 1)}
        self.state = {"lazy_runs": torch.zeros((), dtype=torch.int64)}
        return self.nets

    def optimizers(self, lr):
        n = self.nets
        return {
            "D": torch.optim.Adam(n["D"].parameters(), lr=lr),
            "R": torch.optim.Adam(n["R"].parameters(), lr=lr),
            "GH": torch.optim.Adam([*n["G"].parameters(), *n["H"].parameters()], lr=lr),  # one over two nets
        }

    def phases(self):
        return [
            Phase("D", self.d_loss),
            Phase("Rlazy", self.lazy_loss, opt="R", every=16, data=False),
            Phase("G", self.g_loss, opt="GH", freeze=("D",), data=False),
        ]

    def schedule(self, ctx):
        self.calls.append(("schedule", ctx.step, ctx.seen))
        return Schedule(lr_scale={"GH": 1 - ctx.step / ctx.total_steps}, values={"alpha": ctx.step / 100})

    def ema(self):
        return EMA("G", half_life_kimg=0.01, rampup=0.5)

    def latent_dim(self):
        return 4

    def generate(self, nets, z, y=None, **opts):
        return torch.tanh(nets["G"](z)).view(-1, 1, 8, 8)

    def fake(self, n):
        return self.generate(self.nets, torch.randn(n, 4, generator=self.rng))

    def d_loss(self, batch, ctx):
        self.calls.append(("D", ctx.step, ctx.seen))
        x = batch["x"].flatten(1)
        fake = self.fake(x.shape[0]).flatten(1).detach()
        return {"loss": self.nets["D"](fake).mean() - self.nets["D"](x).mean()}

    def lazy_loss(self, batch, ctx):
        self.calls.append(("Rlazy", ctx.step, ctx.seen))
        self.state["lazy_runs"] = self.state["lazy_runs"] + 1
        out = self.nets["R"](batch["x"].flatten(1)).mean()
        return {"loss": out, "step": torch.tensor(float(ctx.step))}

    def g_loss(self, batch, ctx):
        self.calls.append(("G", ctx.step, ctx.seen))
        h = self.nets["H"](torch.randn(B, 4, generator=self.rng)).pow(2).mean()  # H trains with G's optimizer
        return {"loss": -self.nets["D"](self.fake(B).flatten(1)).mean() + h}


class FakeUnpaired(Family):
    """Two domains, two cursors: G maps A to B, a pool of past fakes is family state."""

    name = "fake-unpaired"
    task = "unpaired"
    Options = NoOptions
    sizes = (8,)
    inference = ("G",)

    def build(self):
        self.nets = {"G": nn.Conv2d(1, 1, 1), "D": nn.Conv2d(1, 1, 3)}
        self.state = {"pool": torch.zeros(0, 1, 8, 8)}
        return self.nets

    def optimizers(self, lr):
        return {k: torch.optim.Adam(v.parameters(), lr=lr) for k, v in self.nets.items()}

    def phases(self):
        return [Phase("D", self.d_loss), Phase("G", self.g_loss, freeze=("D",), data=False)]

    def translate(self, nets, x, direction="AtoB", **opts):
        return torch.tanh(nets["G"](x))

    def d_loss(self, batch, ctx):
        fake = self.translate(self.nets, batch["A"]).detach()
        pick = torch.rand(fake.shape[0], generator=self.rng) < 0.5
        self.state["pool"] = torch.cat([self.state["pool"], fake[pick]])[-6:]
        return {"loss": self.nets["D"](fake).mean() - self.nets["D"](batch["B"]).mean()}

    def g_loss(self, batch, ctx):
        return {"loss": -self.nets["D"](self.translate(self.nets, batch["A"])).mean()}


@pytest.fixture(autouse=True)
def _fakes(monkeypatch, tmp_path):
    monkeypatch.setitem(FAMILIES, FakeNoise.name, FakeNoise)
    monkeypatch.setitem(FAMILIES, FakeUnpaired.name, FakeUnpaired)
    monkeypatch.chdir(tmp_path)


def _trainer(tmp_path: Path, model: str, run: str, steps: int, ckpt_every: int = 1000) -> Trainer:
    if model == "fake-unpaired":
        make_folder(tmp_path / "uA", n=12, size=8, mode="L")
        make_folder(tmp_path / "uB", n=20, size=8, mode="L", seed=3)
        data = load_data(str(tmp_path / "uA"), 8, "unpaired", str(tmp_path / "uB"))
    else:
        data = load_data(str(make_folder(tmp_path / "d", n=24, size=8, mode="L")), 8)
    cfg = TrainConfig(
        model=model,
        data="d",
        size=8,
        steps=steps,
        batch_size=B,
        lr=1e-2,
        amp="off",
        sample_every=10_000,
        ckpt_every=ckpt_every,
        log_every=10_000,
    )
    return Trainer(cfg, data, tmp_path / run, torch.device("cpu"), quiet=True)


def _opt_state(t: Trainer, key: str) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in optimizer_tensors("o", t.optims[key])[0].items()}


def _snap(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_lazy_phase_runs_every_16_steps_and_is_untouched_otherwise(tmp_path):
    t = _trainer(tmp_path, "fake-noise", "run", 32)
    fam = t.family
    for step in range(32):
        r_before, opt_before = _snap(fam.nets["R"]), _opt_state(t, "R")
        t.train_step()
        changed = any(not torch.equal(a, b) for a, b in zip(r_before, _snap(fam.nets["R"])))
        opt_after = _opt_state(t, "R")
        opt_changed = opt_before.keys() != opt_after.keys() or any(
            not torch.equal(v, opt_after[k]) for k, v in opt_before.items()
        )
        assert changed == opt_changed == (step % 16 == 0), step
    lazy = [c for c in fam.calls if c[0] == "Rlazy"]
    assert [c[1] for c in lazy] == [0, 16]
    assert int(fam.state["lazy_runs"]) == 2
    means, _ = t.log(1.0, 0)
    assert means["Rlazy/step"] == 8.0  # the mean over the 2 steps it ran, not over 32
    # the lazy phase reuses D's batch: images seen count D's draws only
    assert t.seen == 32 * B


def test_shared_optimizer_moves_both_nets_and_schedule_is_seen_per_step(tmp_path):
    t = _trainer(tmp_path, "fake-noise", "run", 10)
    fam = t.family
    g0, h0, d0 = _snap(fam.nets["G"]), _snap(fam.nets["H"]), _snap(fam.nets["D"])
    for _ in range(3):
        t.train_step()
    assert all(not torch.equal(a, b) for a, b in zip(g0, _snap(fam.nets["G"])))
    assert all(not torch.equal(a, b) for a, b in zip(h0, _snap(fam.nets["H"])))
    assert not torch.equal(d0[0], fam.nets["D"].weight)  # (its bias gets no gradient from this loss)
    assert [c for c in fam.calls if c[0] == "schedule"] == [("schedule", s, s * B) for s in range(3)]
    # the lr of this step is initial * (1 - step / total); D and R keep theirs
    assert t.optims["GH"].param_groups[0]["lr"] == pytest.approx(1e-2 * (1 - 2 / 10))
    assert t.optims["D"].param_groups[0]["lr"] == 1e-2
    assert t.values == {"alpha": 0.02}


def test_ema_matches_a_hand_computation(tmp_path):
    t = _trainer(tmp_path, "fake-noise", "run", 6)
    G, G_ema = t.family.nets["G"], t.family.nets["G_ema"]
    assert all(torch.equal(a, b) for a, b in zip(_snap(G), _snap(G_ema)))  # starts as a copy
    for _ in range(6):
        seen_before, ema_before = t.seen, _snap(G_ema)
        t.train_step()
        half_life = min(0.01 * 1000, seen_before * 0.5)
        beta = 0.5 ** (B / max(half_life, 1e-8))
        for e0, g, e1 in zip(ema_before, _snap(G), _snap(G_ema)):
            torch.testing.assert_close(e1, g + beta * (e0 - g), rtol=0, atol=1e-7)
    assert not all(torch.equal(a, b) for a, b in zip(_snap(G), _snap(G_ema)))
    assert t.family.inference_nets()["G"] is G_ema


@pytest.mark.parametrize("model", ["fake-noise", "fake-unpaired"])
def test_resume_is_bit_identical_with_ema_state_and_cursors(tmp_path, model):
    full = _trainer(tmp_path, model, "full", 20)
    full.run()
    half = _trainer(tmp_path, model, "half", 20)  # killed after step 9, as a checkpoint every 9 steps would leave it
    for _ in range(9):
        half.train_step()
    half.save(final=False)
    rest = _trainer(tmp_path, model, "half", 20)
    rest.restore(tmp_path / "half" / "checkpoints" / "step-0000009.safetensors")
    rest.run()
    a = load_file(str(tmp_path / "full" / "checkpoints" / "step-0000020.safetensors"))
    b = load_file(str(tmp_path / "half" / "checkpoints" / "step-0000020.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    if model == "fake-unpaired":
        assert {"data.cursor.A", "data.cursor.B", "state.pool"} <= a.keys()
        assert a["data.cursor.A"][0] != a["data.cursor.B"][0]  # 12 vs 20 images: the epochs differ
        assert a["state.pool"].shape[0] == 6
    else:
        assert {"G_ema.weight", "state.lazy_runs", "data.cursor.x"} <= a.keys()
        assert int(a["state.lazy_runs"]) == 2
