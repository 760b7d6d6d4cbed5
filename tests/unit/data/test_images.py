"""Image dataset layer: the elpv registry entry, folders of class subfolders, decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import _img, make_folder

from workbench.data import (
    check_image_file,
    dataset_version,
    image_dataset_names,
    load_image_dataset,
    load_pixels,
    open_rgb,
    scan_folder,
    split_dataset,
)
from workbench.errors import DatasetError


def test_registry_lists_elpv():
    assert "elpv" in image_dataset_names()
    for name in image_dataset_names():  # every image dataset has a version for the run cache
        assert dataset_version(name).startswith(f"{name}@")


def test_elpv_binary_and_4class():
    ds = load_image_dataset("elpv")
    assert len(ds) == 2624 and ds.classes == ["functional", "defective"]
    probs = ds.info["defect_probability"]
    assert set(np.unique(probs).round(3)) == {0.0, 0.333, 0.667, 1.0}
    np.testing.assert_array_equal(ds.labels, (probs >= 0.5).astype(int))
    assert ds.class_counts() == {"functional": 1803, "defective": 821}
    im = Image.open(ds.paths[0])
    assert im.size == (300, 300) and im.mode == "L"
    ds4 = load_image_dataset("elpv", task="4class")
    assert len(ds4.classes) == 4 and ds4.labels.max() == 3
    with pytest.raises(DatasetError, match="binary"):
        load_image_dataset("elpv", task="regression")


def test_elpv_split_is_stratified_75_25_and_subset_keeps_ratio():
    ds = load_image_dataset("elpv")
    tr, te = split_dataset(ds, 0.25, seed=0)
    assert len(te) == 656 and len(tr) == 1968
    assert abs(te.labels.mean() - ds.labels.mean()) < 0.005
    assert not set(tr.paths) & set(te.paths)
    small = load_image_dataset("elpv", max_images=100, seed=1)
    assert len(small) == 100 and abs(small.labels.mean() - ds.labels.mean()) < 0.02
    assert small.paths == load_image_dataset("elpv", max_images=100, seed=1).paths


def test_unknown_dataset_names_the_registry():
    with pytest.raises(DatasetError, match="elpv"):
        load_image_dataset("imagenet")


def test_folder_scan_skips_corrupt_and_non_images_with_reasons(tmp_path):
    root = make_folder(tmp_path / "parts")
    (root / "stray.png").write_bytes(b"x")
    ds = load_image_dataset(str(root))
    assert ds.classes == ["crack", "good", "scratch"]
    assert ds.class_counts() == {"crack": 4, "good": 4, "scratch": 5}
    reasons = {Path(p).name: r for p, r in ds.skipped}
    assert set(reasons) == {"notes.txt", "fake.png", "truncated.png", "empty.jpg", "stray.png"}
    assert "not an image file" in reasons["notes.txt"]
    assert "not a readable image" in reasons["fake.png"]
    assert "corrupt" in reasons["truncated.png"]
    assert reasons["empty.jpg"] == "empty file"
    assert "outside any class" in reasons["stray.png"]
    assert "5 file(s) skipped" in ds.summary()
    assert list(ds.skipped_table().columns) == ["path", "reason"]


def test_empty_folder_one_class_and_missing_folder_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no readable images"):
        scan_folder(tmp_path / "empty")
    _img(tmp_path / "one" / "only" / "a.png")
    _img(tmp_path / "one" / "only" / "b.png")
    (tmp_path / "one" / "other").mkdir()
    (tmp_path / "one" / "other" / "x.txt").write_text("no")
    with pytest.raises(DatasetError, match="one class only"):
        scan_folder(tmp_path / "one")
    with pytest.raises(DatasetError, match="does not exist"):
        load_image_dataset(str(tmp_path / "nope"))


def test_pixels_are_rgb_uint8_for_gray_rgba_and_16bit(tmp_path):
    files = [_img(tmp_path / "g.png", "L"), _img(tmp_path / "a.png", "RGBA"), _img(tmp_path / "c.tif", "RGB"),
             _img(tmp_path / "w.png", "I;16")]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    px, errors = load_pixels([*map(str, files), str(bad)], 32)
    assert px.shape == (5, 32, 32, 3) and px.dtype == np.uint8
    assert errors[:4] == [None] * 4 and errors[4]
    g = px[0].astype(int)
    assert (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()  # grayscale replicated
    assert px[3].max() > 200  # 16-bit rescaled, not clipped to black
    assert open_rgb(files[1]).mode == "RGB"
    assert check_image_file(files[0]) is None and check_image_file(bad)
