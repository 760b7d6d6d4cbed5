"""Vision fine-tuning for inspection images: two-phase transfer learning, diagnostics, batch prediction.

The ``vision_finetune`` notebook is a few calls into this package::

    ds = workbench.load_image_dataset("elpv")        # or a folder of class subfolders
    vision.dataset_overview(ds)
    run = vision.train(ds, backbone="efficientnet_lite0", image_size=224)
    vision.record(run)                               # test_accuracy, test_roc_auc, train_seconds
    run.learning_curves(); run.confusion_matrix(); run.class_report(); run.mistakes()  # the sections
    model_dir = vision.save(run, workbench.artifacts_dir())   # model/ (safetensors + model.json), test_predictions.csv
    vision.log(tracker, run, model_dir)

and from the shell: ``workbench predict MODEL_DIR IMAGES... -o predictions.csv``.

Building blocks live in private modules: ``_backbones`` (registry), ``_nets`` (the classifier),
``_tensors`` (inputs, augmentation, TTA), ``_train`` (the two-phase fit), ``_run`` (split, train,
evaluate: :class:`VisionRun`), ``_io`` (the saved-model contract), ``_report`` (diagnostics),
``_outputs`` (save, log, record). Importing this package does not import torch.
"""

from __future__ import annotations

from ._backbones import backbone_names
from ._io import load_predictor  # noqa: F401  (the ``vision`` model kind's loader)
from ._outputs import log, record, save
from ._report import dataset_overview
from ._run import VisionRun, train

__all__ = ["train", "save", "log", "record", "VisionRun", "dataset_overview", "backbone_names"]
