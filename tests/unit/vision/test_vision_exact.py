"""Vision, exactly: early stopping sees the validation split (never the test split), and the test metrics,
confusion matrix and class report are the ones of the predictions."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from support import make_folder

from workbench import vision
from workbench.data import load_image_dataset, load_pixels, split_dataset
from workbench.vision._run import VisionRun, evaluate_metrics

QUICK = dict(image_size=48, epochs_frozen=1, epochs=1, views=1, batch_size=8, progress=False)


class _Stop(Exception):
    pass


def test_early_stopping_watches_the_validation_split_not_the_test_split(tmp_path, monkeypatch):
    from workbench.vision import _train

    ds = load_image_dataset(str(make_folder(tmp_path / "parts", per_class=8)))
    seen = {}

    def capture(train_px, train_y, val_px, val_y, classes, cfg):
        seen.update(train=(train_px, train_y), val=(val_px, val_y), cfg=cfg)
        raise _Stop  # the split is what is checked: no training needed
    monkeypatch.setattr(_train, "fit_classifier", capture)
    with pytest.raises(_Stop):
        vision.train(ds, test_size=0.25, **QUICK)
    cfg = seen["cfg"]
    rest, test = split_dataset(ds, test_size=0.25, seed=cfg.seed)
    fit, val = split_dataset(rest, test_size=cfg.val_size, seed=cfg.seed + 1)
    assert not set(val.paths) & set(test.paths) and not set(fit.paths) & set(test.paths)
    for (px, y), part in ((seen["val"], val), (seen["train"], fit)):
        assert np.array_equal(y, part.labels) and np.array_equal(px, load_pixels(part.paths, 48)[0])


# a fixed 3-class case: true 0 0 1 1 2 2, predicted 0 1 1 1 2 0
Y = np.array([0, 0, 1, 1, 2, 2])
PROBS = np.array([[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.1, 0.7, 0.2], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7],
                  [0.5, 0.2, 0.3]])


def test_metrics_of_a_fixed_confusion_are_exact():
    m = evaluate_metrics(Y, PROBS)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["balanced_accuracy"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)  # mean recall per class
    assert m["precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["recall"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m["f1"] == pytest.approx((1 / 2 + 0.8 + 2 / 3) / 3)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log(PROBS[np.arange(6), Y])))
    assert m["brier"] == pytest.approx(np.mean(np.sum((PROBS - np.eye(3)[Y]) ** 2, axis=1)))


def test_confusion_matrix_and_class_report_of_a_fixed_run():
    test = SimpleNamespace(labels=Y, paths=[f"img{i}.png" for i in range(6)])
    run = VisionRun(SimpleNamespace(classes=["crack", "good", "scratch"]), None, None, test, np.zeros((6, 1)), PROBS)
    z = np.asarray(run.confusion_matrix().data[0].z)
    np.testing.assert_array_equal(z, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])  # rows: true class
    rep = run.class_report()
    assert rep["precision"].tolist() == [0.5, 0.6667, 1.0]  # shown to 4 decimals
    assert rep["recall"].tolist() == [0.5, 1.0, 0.5]
    assert rep["f1"].tolist() == [0.5, 0.8, 0.6667]
    assert rep["support"].tolist() == [2, 2, 2]
    table = run.test_predictions()
    assert table["label"].tolist() == ["crack", "crack", "good", "good", "scratch", "scratch"]
    assert table["prediction"].tolist() == ["crack", "good", "good", "good", "scratch", "crack"]
