"""Data by task: the decode cache, .npy input, paired and unpaired folders, clear errors, seeded augmentation."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from helpers import make_class_folders, make_folder
from PIL import Image

from gan_cli.errors import BadInput
from gan_cli.io.datasets import load_data
from gan_cli.registry import Augment
from gan_cli.train.batches import Batcher
from gan_cli.train.dist import Dist


def test_folder_is_decoded_once_then_memory_mapped(tmp_path, capsys):
    root = make_folder(tmp_path / "imgs", n=10, size=16)
    a = load_data(str(root), 8).main
    assert "decoded 10 images" in capsys.readouterr().err
    b = load_data(str(root), 8).main
    assert "decoded" not in capsys.readouterr().err  # second run: straight from the cache
    assert isinstance(b.images, np.memmap) and b.images.shape == (10, 8, 8, 3)
    assert np.array_equal(a.images, b.images)
    # editing a file makes a new entry
    Image.new("RGB", (16, 16), (255, 0, 0)).save(root / "img000.png")
    os.utime(root / "img000.png", ns=(1, 1))
    c = load_data(str(root), 8).main
    assert "decoded 10 images" in capsys.readouterr().err and not np.array_equal(c.images[0], b.images[0])
    assert isinstance(load_data(str(root), 8, in_memory=True).main.images, np.ndarray)


def test_class_folders_give_labels_and_unreadable_files_are_skipped(tmp_path, capsys):
    root = make_class_folders(tmp_path / "c", n=4, size=8)
    (root / "square" / "broken.png").write_bytes(b"not a png")
    s = load_data(str(root), 8, "class").main
    assert s.class_names == ["circle", "square"] and s.labels.tolist() == [0] * 4 + [1] * 4
    assert "1 unreadable image(s) skipped" in capsys.readouterr().err
    load_data(str(root), 8, "class")  # cached: the skipped file is still reported
    assert "1 unreadable image(s) skipped" in capsys.readouterr().err


def test_npy_input_directly_or_resized(tmp_path):
    arr = np.random.default_rng(0).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    np.save(tmp_path / "d.npy", arr)
    s = load_data(str(tmp_path / "d.npy"), 8).main
    assert np.array_equal(s.images, arr)
    assert load_data(str(tmp_path / "d.npy"), 4).main.images.shape == (5, 4, 4, 3)
    np.save(tmp_path / "gray.npy", arr[..., 0])
    assert load_data(str(tmp_path / "gray.npy"), 8).main.channels == 1
    np.save(tmp_path / "f.npy", arr.astype(np.float32))
    with pytest.raises(BadInput, match="expected uint8 images"):
        load_data(str(tmp_path / "f.npy"), 8)


def _pair_folders(tmp_path, names_a, names_b):
    for folder, names, ext in (("A", names_a, ".png"), ("B", names_b, ".jpg")):
        (tmp_path / "p" / folder).mkdir(parents=True, exist_ok=True)
        for i, n in enumerate(names):
            Image.new("RGB", (8, 8), (10 * i, 0, 0) if folder == "A" else (0, 10 * i, 0)).save(
                tmp_path / "p" / folder / f"{n}{ext}"
            )
    return tmp_path / "p"


def test_paired_folders_match_by_name_and_mismatches_are_named(tmp_path):
    root = _pair_folders(tmp_path, ["x", "y", "z"], ["x", "y", "z"])
    d = load_data(str(root), 8, "paired")
    assert d.paired and d.domains["A"].names == d.domains["B"].names == ["x", "y", "z"]
    assert d.domains["A"].images[2, 0, 0, 0] == 20 and d.domains["B"].images[2, 0, 0, 1] == 20
    swapped = load_data(str(root), 8, "paired", direction="BtoA")
    assert swapped.domains["A"].images[2, 0, 0, 1] == 20
    by_flag = load_data(str(root / "A"), 8, "paired", str(root / "B"))
    assert by_flag.domains["B"].names == ["x", "y", "z"]
    bad = _pair_folders(tmp_path / "q", ["x", "y", "w"], ["x", "y", "v"])
    with pytest.raises(BadInput, match=r"1 in .*A have no partner \(e.g. w\).*1 in .*B have no partner \(e.g. v\)"):
        load_data(str(bad), 8, "paired")


def test_side_by_side_ab_images_are_split(tmp_path):
    (tmp_path / "ab").mkdir()
    arr = np.zeros((8, 16, 3), np.uint8)
    arr[:, :8] = 200  # A is the left half
    Image.fromarray(arr).save(tmp_path / "ab" / "1.png")
    d = load_data(str(tmp_path / "ab"), 8, "paired")
    assert (d.domains["A"].images == 200).all() and (d.domains["B"].images == 0).all()
    Image.new("RGB", (17, 8)).save(tmp_path / "ab" / "odd.png")
    with pytest.raises(BadInput, match="odd width.*odd.png"):
        load_data(str(tmp_path / "ab"), 8, "paired")


def test_unpaired_domains_and_their_errors(tmp_path):
    make_folder(tmp_path / "u" / "trainA", n=3, size=8)
    make_folder(tmp_path / "u" / "trainB", n=5, size=8, mode="L")
    d = load_data(str(tmp_path / "u"), 8, "unpaired")
    assert (len(d.domains["A"]), len(d.domains["B"])) == (3, 5) and not d.paired
    assert d.in_channels == 3 and d.channels == 1
    (tmp_path / "v" / "trainA").mkdir(parents=True)
    make_folder(tmp_path / "v" / "trainB", n=2, size=8)
    with pytest.raises(BadInput, match=r"trainA: no images found"):
        load_data(str(tmp_path / "v"), 8, "unpaired")
    with pytest.raises(BadInput, match="needs two domains"):
        load_data(str(make_folder(tmp_path / "w", n=2, size=8)), 8, "unpaired")
    with pytest.raises(BadInput, match="--data-b is for translation"):
        load_data(str(tmp_path / "w"), 8, "noise", str(tmp_path / "w"))


def _batcher(data, seed=0):
    return Batcher(data, "paired", 8, Augment(12 / 8, True), seed, Dist(), torch.device("cpu"))


def test_pair_augmentation_is_identical_for_both_images_and_resumable(tmp_path):
    (tmp_path / "p" / "A").mkdir(parents=True)
    (tmp_path / "p" / "B").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        img = Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8))
        img.save(tmp_path / "p" / "A" / f"{i}.png")
        img.save(tmp_path / "p" / "B" / f"{i}.png")
    data = load_data(str(tmp_path / "p"), 12, "paired")  # stored at the load size 12, cropped to 8
    a = _batcher(data)
    batches = [a.next(4) for _ in range(5)]
    for b in batches:
        assert b["A"].shape == (4, 3, 8, 8) and torch.equal(b["A"], b["B"])  # same crop and flip for the pair
    crops = torch.stack([b["A"] for b in batches])
    assert not all(torch.equal(crops[0], c) for c in crops[1:])
    # a batcher restored from the cursor after 2 batches continues exactly
    replay = _batcher(data)
    for _ in range(2):
        replay.next(4)
    resumed = _batcher(data)
    resumed.load(replay.state())
    for b in batches[2:]:
        assert torch.equal(resumed.next(4)["A"], b["A"])


def test_a_link_back_up_is_not_a_class(tmp_path):
    root = make_class_folders(tmp_path / "c", n=3, size=8)
    (root / "again").symlink_to(root)
    (root / "dup").symlink_to(root / "circle")
    s = load_data(str(root), 8, "class").main
    assert s.class_names == ["circle", "square"] and len(s) == 6
