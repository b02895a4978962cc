"""MobileFaceNet and the face-ID distance (gan_cli/nets/mobilefacenet.py) against minivision's photo2cartoon code.

tests/data/mobilefacenet/ holds the key names, shapes and dtypes of the reference's `MobileFaceNet(512)`
state dict and the reference's outputs for the weights `synthetic_state_dict` makes from those keys
(README.md there says how they were produced). The loader must take exactly those keys, refuse others
naming what it found, and never run code from the file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gan_cli.errors import BadInput
from gan_cli.nets.mobilefacenet import FaceID, MobileFaceNet, face_crop, load_mobilefacenet

DATA = Path(__file__).parent / "data" / "mobilefacenet"


def reference_keys() -> list[tuple[str, list[int], str]]:
    """(key, shape, dtype) of the reference's MobileFaceNet(512).state_dict(), in its order."""
    return [tuple(row) for row in json.loads((DATA / "keys.json").read_text())]


def synthetic_state_dict(keys: list[tuple[str, list[int], str]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Weights for those keys, drawn in key order: He-scaled convs and linear, batch-norm scales in
    [0.5, 1.5] and shifts ~ N(0, 0.1), running means ~ N(0, 0.1) and variances in [0.5, 1.5], PReLU
    slopes in [0.1, 0.4]. The golden outputs were made by the reference net loaded with exactly these."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape, _ in keys:
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(0)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith("running_mean"):
            out[key] = torch.randn(shape, generator=g) * 0.1
        elif key.endswith("prelu.weight"):
            out[key] = torch.rand(shape, generator=g) * 0.3 + 0.1
        elif len(shape) == 1 and key.endswith("weight"):
            out[key] = torch.rand(shape, generator=g) + 0.5
        elif len(shape) == 1:
            out[key] = torch.randn(shape, generator=g) * 0.1
        else:
            out[key] = torch.randn(shape, generator=g) * math.sqrt(2 / math.prod(shape[1:]))
    return out


def golden_inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {f"{n}{s}": torch.rand(2, 3, s, s, generator=g) * 2 - 1 for s in (256, 32) for n in ("a", "b")}


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mfn") / "model_mobilefacenet.pth"
    torch.save(synthetic_state_dict(reference_keys()), path)
    return path


def test_the_reference_keys_and_shapes_are_ours():
    ours = {k: (list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in MobileFaceNet().state_dict().items()}
    theirs = {k: (shape, dtype) for k, shape, dtype in reference_keys()}
    assert len(theirs) == 333 and ours == theirs


def test_loads_every_key_and_matches_the_reference_outputs(weights):
    """Reference: FaceFeatures.infer / cosine_distance of minivision-ai/photo2cartoon (README in the data folder)."""
    golden = load_file(str(DATA / "golden.safetensors"))
    net = load_mobilefacenet(weights)
    sd = synthetic_state_dict(reference_keys())
    assert all(torch.equal(v, sd[k]) for k, v in net.state_dict().items())  # every tensor taken as it is
    face_id = FaceID(net)
    x = golden_inputs()
    with torch.no_grad():
        diffs = {
            "embed_a256": face_id.embed(x["a256"]) - golden["embed_a256"],
            "embed_b256": face_id.embed(x["b256"]) - golden["embed_b256"],
            "distance256": face_id(x["a256"], x["b256"]) - golden["distance256"],
        }
    b = x["b32"].clone().requires_grad_(True)
    # One thread, as the golden file was made: this gradient sums terms that largely cancel, so a 2-thread
    # reduction order moves its largest element by ~2e-3 relative (1 thread: equal to the reference bit for bit).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        distance = face_id(x["a32"], b)
        distance.sum().backward()
    finally:
        torch.set_num_threads(threads)
    diffs["distance32"] = distance.detach() - golden["distance32"]
    diffs["grad_b32"] = b.grad - golden["grad_b32"]
    worst = {k: float(v.abs().max()) for k, v in diffs.items()}
    print("max abs diff to the reference:", worst)
    assert max(worst.values()) < 1e-5, worst
    assert float(golden["distance256"].min()) > 0.05  # the check is not on a degenerate, constant embedding


def test_the_face_crop_is_the_references():
    assert face_crop(256, 256) == (57, 219, 47, 209)  # 162 px: what their FaceFeatures.infer cuts
    assert face_crop(32, 32) == (7, 27, 6, 26)


def test_the_net_is_frozen_and_stays_in_eval_mode(weights):
    face_id = FaceID(load_mobilefacenet(weights))
    assert not face_id.net.training and not any(p.requires_grad for p in face_id.parameters())
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    assert face_id(x, x).abs().max() < 1e-5  # one image (eval-mode batch norm) and itself: distance 0


def test_files_saved_before_num_batches_tracked_load(tmp_path):
    sd = {k: v for k, v in synthetic_state_dict(reference_keys()).items() if not k.endswith("num_batches_tracked")}
    torch.save(sd, tmp_path / "old.pth")
    load_mobilefacenet(tmp_path / "old.pth")


def _refused(tmp_path: Path, obj, match: str) -> None:
    torch.save(obj, tmp_path / "w.pth")
    with pytest.raises(BadInput, match=match):
        load_mobilefacenet(tmp_path / "w.pth")


def test_a_wrong_state_dict_says_what_it_found(tmp_path):
    sd = synthetic_state_dict(reference_keys())
    _refused(tmp_path, {k: v for k, v in sd.items() if k != "linear.weight"}, r"missing: linear\.weight$")
    _refused(tmp_path, {**sd, "fc.bias": torch.zeros(3)}, r"left over: fc\.bias$")
    _refused(tmp_path, {**sd, "linear.weight": torch.zeros(128, 512)}, r"wrong shape: linear\.weight \(128, 512\)")
    _refused(tmp_path, {**sd, "bn.weight": torch.ones(512, dtype=torch.long)}, "bn.weight has dtype torch.int64")
    _refused(tmp_path, {"genA2B": sd}, "a dict of genA2B rather than one network's state dict")
    _refused(tmp_path, torch.zeros(3), "holds a Tensor")


def test_a_file_saved_from_data_parallel_loads(tmp_path):
    sd = synthetic_state_dict(reference_keys())
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "dp.pth")
    assert torch.equal(load_mobilefacenet(tmp_path / "dp.pth").state_dict()["linear.weight"], sd["linear.weight"])


def test_missing_corrupt_and_code_carrying_files_are_refused(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        load_mobilefacenet(tmp_path / "absent.pth")
    with pytest.raises(BadInput, match="not a file"):
        load_mobilefacenet(tmp_path)
    (tmp_path / "junk.pth").write_bytes(b"\x80\x02not a pickle at all")
    with pytest.raises(BadInput, match="not a readable PyTorch .pth file"):
        load_mobilefacenet(tmp_path / "junk.pth")
    torch.save(MobileFaceNet(), tmp_path / "module.pth")  # a whole pickled module: loading it would run code
    with pytest.raises(BadInput, match="a whole pickled model is refused"):
        load_mobilefacenet(tmp_path / "module.pth")
