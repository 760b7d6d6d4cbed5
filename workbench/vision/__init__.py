"""Vision fine-tuning for inspection images: two-phase transfer learning, diagnostics, batch prediction.

Typical use (the ``vision_finetune`` notebook)::

    ds = load_image_dataset("elpv")                 # or a folder of class subfolders
    run = vision.train(ds, backbone="efficientnet_lite0", image_size=224)
    vision.record_metrics(run)                      # test_accuracy, test_roc_auc, train_seconds
    vision.confusion_matrix(run).show(); vision.mistakes(run)
    vision.save(run, workbench.artifacts_dir())     # model/ (safetensors + model.json) and test_predictions.csv

and from the shell: ``workbench predict MODEL_DIR IMAGES... -o predictions.csv``.

Private modules: ``_backbones`` (registry), ``_nets`` (the classifier), ``_tensors`` (inputs,
augmentation, TTA), ``_train`` (the two-phase fit), ``_run`` (split, train, evaluate, save),
``_io`` (the saved-model contract), ``_report`` (diagnostics), ``_track`` (W&B).
"""

from __future__ import annotations

import importlib
from typing import Any

from ..data import load_image_dataset
from ._backbones import BACKBONES, BackboneSpec, backbone_names, create_body, get_backbone_spec
from ._io import VisionPredictor, expand_inputs, load_model, load_predictor, predict_arrays, save_model
from ._report import class_report, confusion_matrix, dataset_overview, learning_curves, mistakes, roc
from ._run import VisionRun, evaluate_metrics, record_metrics, save, timings_table, train
from ._track import log_training

# building blocks that import torch: loaded on first use
_LAZY = {"TrainConfig": "_train", "FitResult": "_train", "fit_classifier": "_train", "build_classifier": "_nets",
         "ImageClassifier": "_nets", "augment": "_tensors", "flip_features": "_tensors", "flip_view": "_tensors",
         "tta_views": "_tensors", "to_input": "_tensors", "encode": "_tensors", "predict_proba": "_tensors",
         "eval_batch_size": "_tensors", "seed_everything": "_tensors", "pick_device": "_tensors"}

__all__ = [*_LAZY, "log_training", "VisionRun", "train", "evaluate_metrics", "record_metrics", "save", "load_model",
           "save_model", "load_predictor", "VisionPredictor", "expand_inputs", "predict_arrays", "backbone_names",
           "BACKBONES", "BackboneSpec", "create_body", "get_backbone_spec", "learning_curves", "confusion_matrix",
           "class_report", "roc", "mistakes", "dataset_overview", "load_image_dataset", "timings_table"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'workbench.vision' has no attribute {name!r}")
