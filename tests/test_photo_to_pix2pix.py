"""examples/photo_to_pix2pix.sh end to end on the two shared face photos: prep -> photo2cartoon -> pairs ->
pix2pix -> translate, each step the real `gan` command reading the files the step before wrote.

The photo2cartoon model is the golden random-weight file made by minivision's code (converted), and the
pix2pix is tiny and trained for 2 steps: the pictures are noise; that the commands pipe is what is tested."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT / "tests" / "data" / "faces"


@pytest.mark.slow  # five `gan` processes (~25 s on 2 shared cores)
def test_pipeline_runs_end_to_end(cli, tmp_path):
    p2c = tmp_path / "p2c.safetensors"
    assert cli("convert", ROOT / "tests" / "data" / "ugatit" / "p2c_light_params.pt", p2c).code == 0
    photos, new = tmp_path / "photos", tmp_path / "new"
    photos.mkdir()
    new.mkdir()
    for name in ("astronaut.png", "grace_hopper.jpg"):
        shutil.copy(FACES / name, photos / name)
    shutil.copy(FACES / "astronaut.png", new / "spacewalk.png")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
        "GAN_CLI_OFFLINE": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "WORK": str(tmp_path / "work"),
        "P2C_WEIGHTS": str(p2c),
        "SIZE": "32",
        "STEPS": "2",
        "PIX2PIX_OPTS": "-o netG=unet_32 -o ngf=2 -o ndf=2 --batch-size 2",
    }
    script = ROOT / "examples" / "photo_to_pix2pix.sh"
    p = subprocess.run(["bash", script, photos, new], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    work = tmp_path / "work"
    stems = ["astronaut", "grace_hopper"]
    assert sorted(f.stem for f in (work / "faces").glob("*.png")) == stems
    assert sorted(f.stem for f in (work / "cartoons").glob("*.png")) == stems  # the pairs, by name
    assert (work / "run" / "generator.safetensors").is_file()
    assert f"training pix2pix on A: {work / 'faces'} (2 images) | B: {work / 'cartoons'} (2 images)" in p.stderr
    assert p.stdout.split() == [str(work / "out" / "spacewalk.png")]
    out = Image.open(work / "out" / "spacewalk.png")
    assert out.size == Image.open(work / "new-faces" / "spacewalk.png").size and out.mode == "RGB"
