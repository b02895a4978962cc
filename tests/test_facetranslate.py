"""FaceTranslator's network call: the generator keeps the contiguous layout it is loaded in.

Its family runs it contiguous anyway (ugatit.canonical_call clones channels-last weights on every call) and
channels-last was measured slower for photo2cartoon's generator (see facetranslate's docstring); its
cartoons are then those of the plain per-face loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gan_cli.facetranslate import FaceTranslator, cartoonize
from gan_cli.nets.photo2cartoon import output_to_cartoon, photo_to_input
from gan_cli.sampling import load_model

DATA = Path(__file__).parent / "data"


def test_the_generator_stays_contiguous_and_equals_the_plain_loop(cli, tmp_path):
    dst = tmp_path / "p2c.safetensors"
    assert cli("convert", DATA / "ugatit" / "p2c_light_params.pt", dst).code == 0
    model = load_model(dst)
    translator = FaceTranslator(model, "AtoB", paste_back=False, save_prep=None)
    translator.close()
    G = model.nets["genA2B"]
    assert all(t.is_contiguous() for t in (*G.parameters(), *G.buffers()))
    seen: list[bool] = []
    G.register_forward_pre_hook(lambda m, args: seen.append(args[0].is_contiguous()))
    rng = np.random.default_rng(1)
    faces = [
        np.dstack([rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), np.full((64, 64), 255, np.uint8)])
        for _ in range(2)
    ]
    cartoons = cartoonize(model, faces)
    assert seen == [True]
    for face, cartoon in zip(faces, cartoons):
        x, mask = photo_to_input(face, model.family.size)
        with torch.no_grad():
            plain = output_to_cartoon(G(x)[0][0], mask)
        assert np.abs(plain.astype(int) - cartoon.astype(int)).max() <= 1
