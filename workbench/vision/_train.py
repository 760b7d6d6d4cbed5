"""Two-phase transfer learning on CPU budgets: frozen head training on cached features, then
fine-tuning of the last stages with discriminative learning rates. The head reads pooled features
of several middle stages (``taps``), not only the last one.

The frozen stages run once per image (and per cached augmented view); their outputs are kept in
memory, so the frozen phase is seconds and each fine-tuning epoch only runs the unfrozen stages.
With ``unfreeze="all"`` every stage trains and augmentation happens online on each batch.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DatasetError, ModelError
from ._backbones import get_backbone_spec
from ._nets import ImageClassifier, StartAt, build_classifier
from ._tensors import (
    _batches,
    _cl,
    augment,
    encode,
    eval_batch_size,
    flip_features,
    pick_device,
    predict_proba,
    seed_everything,
    tta_views,
)


@dataclass
class TrainConfig:
    """Training settings (defaults are the ones the vision notebook reports with).

    ``taps``: backbone stages whose pooled outputs feed the head (None: the backbone's default; for
    efficientnet_lite0 the three middle stages, which beat the last one on defect images, and the
    stages after them are dropped); ``unfreeze`` is how many trailing stages fine-tune in phase 2
    (``"all"``/-1: every one, augmented online); ``views`` is how many fixed augmented views of each
    training image are cached for them (random flips of the cached maps are added each epoch with
    ``feature_flips``); phase 1 trains the head at ``lr``, phase 2 at ``lr_finetune`` (None: ``lr``)
    with the first fine-tuned stage at ``lr_finetune * lr_ratio`` and later ones geometrically closer;
    ``train_bn=False`` keeps the pretrained batch-norm statistics; ``class_weight="balanced"`` weights
    the loss by inverse class frequency (higher recall on rare classes, lower accuracy);
    ``label_smoothing`` is passed to the cross-entropy loss.
    """

    backbone: str = "efficientnet_lite0"
    image_size: int = 224
    epochs_frozen: int = 20
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    lr_ratio: float = 0.1
    lr_finetune: float | None = 3e-4
    train_bn: bool = False
    unfreeze: int | str = 3
    views: int = 4
    weight_decay: float = 0.05
    dropout: float = 0.5
    patience: int = 4
    val_size: float = 0.15
    tta: bool = True
    taps: tuple[int, ...] | None = None
    class_weight: str | None = None
    label_smoothing: float = 0.0
    feature_flips: bool = True
    seed: int = 0
    device: str | None = None
    progress: bool | None = None

    def validate(self) -> None:
        get_backbone_spec(self.backbone)  # ModelError listing valid names
        if not (isinstance(self.image_size, int) and self.image_size >= 32):
            raise ModelError(f"image_size must be an int >= 32, got {self.image_size!r}")
        for name in ("epochs_frozen", "epochs", "patience"):
            if int(getattr(self, name)) < 0:
                raise ModelError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.batch_size < 2:
            raise ModelError(f"batch_size must be >= 2, got {self.batch_size!r}")
        if not self.lr > 0:
            raise ModelError(f"lr must be > 0, got {self.lr!r}")
        if self.lr_finetune is not None and not self.lr_finetune > 0:
            raise ModelError(f"lr_finetune must be > 0 (or None: lr), got {self.lr_finetune!r}")
        if isinstance(self.unfreeze, int) and not isinstance(self.unfreeze, bool) and self.unfreeze < 0:
            self.unfreeze = "all"
        if self.unfreeze != "all" and not (isinstance(self.unfreeze, int) and self.unfreeze >= 0):
            raise ModelError(f"unfreeze must be a number of trailing stages (>= 0; -1 for all) or 'all', "
                             f"got {self.unfreeze!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ModelError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if self.class_weight not in (None, "balanced"):
            raise ModelError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")
        if self.taps is not None:
            if isinstance(self.taps, int) or not all(isinstance(t, int) for t in self.taps) or not self.taps:
                raise ModelError(f"taps must be a list of stage indices (e.g. [4, 5, 6] or [-1]), got {self.taps!r}")
            self.taps = tuple(self.taps)
        if int(self.views) < 1:
            raise ModelError(f"views must be >= 1, got {self.views!r}")


# -- training -------------------------------------------------------------------------------------

@dataclass
class FitResult:
    """A trained classifier and how it got there."""

    model: ImageClassifier
    classes: list[str]
    config: TrainConfig
    history: dict[str, list] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)
    cut: int = 0  # first stage not cached (test images: ``frozen()``, then ``tail()``)

    def frozen(self) -> nn.Module:
        """The cached stages (an empty, identity ``Sequential`` when nothing was cached)."""
        return self.model.body[: self.cut]

    def tail(self) -> nn.Module:
        """The model from the first uncached stage on (evaluation)."""
        return StartAt(self.model, self.cut).eval()

    @property
    def meta(self) -> dict[str, Any]:
        spec = get_backbone_spec(self.config.backbone)
        return {"backbone": self.config.backbone, "classes": list(self.classes), "image_size": self.config.image_size,
                "mean": list(spec.mean), "std": list(spec.std), "tta": self.config.tta, "taps": list(self.model.taps),
                "config": {k: v for k, v in asdict(self.config).items() if k not in ("device", "progress")}}


def _class_weights(labels: np.ndarray, k: int) -> torch.Tensor:
    counts = np.bincount(labels, minlength=k).astype(float)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / k, 0.0)
    return torch.tensor(w, dtype=torch.float32)


def _freeze_bn(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def _run_epoch(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, opt, sched, weight: torch.Tensor,
               bs: int, gen: torch.Generator, device, aug=None, bar=None, freeze_bn: bool = False,
               label_smoothing: float = 0.0) -> float:
    """One pass over ``xs`` in random order. No per-step host sync: the loss sum stays on device.

    ``freeze_bn`` keeps batch-norm statistics fixed (fine-tuning on small data after a frozen phase)."""
    model.train()
    if freeze_bn:
        _freeze_bn(model)
    perm = torch.randperm(len(xs), generator=gen)
    total = torch.zeros((), device=device)
    weight = weight.to(device)
    for s in _batches(len(perm), bs):
        idx = perm[s]
        if len(idx) < 2:  # BatchNorm needs two samples
            continue
        x = xs[idx].to(device, non_blocking=True)
        x = aug(x) if aug is not None else _cl(x)
        y = ys[idx].to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y, weight=weight, label_smoothing=label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        total += loss.detach() * len(idx)
        if bar is not None:
            bar.update(len(idx))
    return float(total) / max(len(xs), 1)


def _val_metrics(model, views, y: np.ndarray, weight: torch.Tensor, bs: int, device) -> tuple[float, float]:
    p = predict_proba(model, views, bs, device)
    loss = F.nll_loss(torch.log(torch.from_numpy(p).clamp_min(1e-7)), torch.from_numpy(y), weight=weight).item()
    return loss, float((p.argmax(1) == y).mean())


def fit_classifier(train_pixels: np.ndarray, train_labels: np.ndarray, val_pixels: np.ndarray,
                   val_labels: np.ndarray, classes: list[str], config: TrainConfig) -> FitResult:
    """Train a classifier in two phases (see module docstring); the best validation weights are kept.

    Pixels are uint8 ``(n, size, size, 3)`` arrays from :func:`workbench.data.load_pixels`.
    """
    config.validate()
    if len(classes) < 2:
        raise DatasetError(f"need at least two classes to train, got {classes}")
    t0 = time.perf_counter()
    fit = _Fit(config, len(classes), train_labels, val_labels)
    fit.cache(train_pixels, val_pixels)
    fit.frozen_phase()
    fit.finetune_phase()
    fit.timings["train_seconds"] = time.perf_counter() - t0
    model = fit.model
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    return FitResult(model, list(classes), config, fit.hist, fit.timings, fit.best, fit.cut)


class _Fit:
    """The state of one two-phase fit: model, seeded generator, cached views, history and best weights."""

    def __init__(self, config: TrainConfig, k: int, train_labels: np.ndarray, val_labels: np.ndarray):
        from ..core.context import in_headless_run

        self.config = config
        self.gen = seed_everything(config.seed)
        self.device = pick_device(config.device)
        if self.device.type == "cpu":
            torch.set_flush_denormal(True)
        self.show = (not in_headless_run()) if config.progress is None else config.progress
        self.spec = get_backbone_spec(config.backbone)
        model = build_classifier(config.backbone, k, config.dropout, taps=config.taps)
        self.model = model.to(self.device).to(memory_format=torch.channels_last)
        n_stages = len(model.body)
        # stages before ``train_from`` stay frozen; those before ``cut`` (never after the first tap) are cached
        self.train_from = 0 if config.unfreeze == "all" else max(0, n_stages - int(config.unfreeze))
        self.cut = min(self.train_from, model.taps[0])
        for p in model.body[: self.train_from].parameters():
            p.requires_grad_(False)
        self.ytr, self.yva = torch.as_tensor(train_labels, dtype=torch.long), np.asarray(val_labels)
        self.weight = _class_weights(np.asarray(train_labels), k) if config.class_weight == "balanced" \
            else torch.ones(k)
        self.hist: dict[str, list] = {"phase": [], "epoch": [], "train_loss": [], "val_loss": [], "val_accuracy": [],
                                      "seconds": []}
        self.timings: dict[str, float] = {}
        self.bs_eval = eval_batch_size(self.device)
        self.best = {"val_loss": math.inf, "val_accuracy": 0.0, "phase": "frozen", "epoch": 0}
        self.best_state = copy.deepcopy(self.model.state_dict())

    def cache(self, train_pixels: np.ndarray, val_pixels: np.ndarray) -> None:
        """Outputs of the frozen stages, per view (nothing cached when cut is 0: the pixels themselves,
        augmented online in phase 2)."""
        from tqdm.auto import tqdm

        t, cfg, spec = time.perf_counter(), self.config, self.spec
        frozen = self.model.body[: self.cut]  # empty (identity) when cut is 0
        kinds = (["none", "hflip"] + ["aug"] * max(0, int(cfg.views) - 2))[: int(cfg.views)] if self.cut > 0 \
            else ["none"]
        total = len(train_pixels) * len(kinds) + len(val_pixels) * len(tta_views(cfg.tta))
        bar = tqdm(total=total, desc="frozen features", disable=not self.show, leave=False)
        self.tr_views = [encode(frozen, train_pixels, spec.mean, spec.std, self.bs_eval, self.device, v, self.gen, bar)
                         for v in kinds]
        self.va_views = [encode(frozen, val_pixels, spec.mean, spec.std, self.bs_eval, self.device, v, progress=bar)
                         for v in tta_views(cfg.tta)]
        bar.close()
        self.timings["cache_seconds"] = time.perf_counter() - t

    def _pooled(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        with torch.inference_mode():
            return [torch.cat([self.model.features(_cl(v[s].to(self.device)), self.cut).cpu()
                               for s in _batches(len(v), self.bs_eval)]) for v in views]

    def _epoch_end(self, phase: str, ep: int, loss: float, net: nn.Module, views, te: float) -> float:
        vl, va = _val_metrics(net, views, self.yva, self.weight, self.bs_eval, self.device)
        for key, val in zip(self.hist, (phase, ep + 1, loss, vl, va, time.perf_counter() - te)):
            self.hist[key].append(val)
        if vl < self.best["val_loss"]:
            self.best = {"val_loss": vl, "val_accuracy": va, "phase": phase, "epoch": ep + 1}
            self.best_state = copy.deepcopy(self.model.state_dict())
        return vl

    def frozen_phase(self) -> None:
        """Phase 1: frozen backbone, train the head on pooled features of every cached view."""
        t, cfg = time.perf_counter(), self.config
        self.model.eval()
        if cfg.epochs_frozen > 0:
            pooled = self._pooled(self.tr_views)
            va_in = [v.clone() for v in self._pooled(self.va_views)]
            pooled_x, pooled_y = torch.cat(pooled).clone(), self.ytr.repeat(len(pooled))
            head = self.model.head
            opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
            steps = cfg.epochs_frozen * math.ceil(len(pooled_x) / 64)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(steps, 1), pct_start=0.25)
            for ep in range(cfg.epochs_frozen):
                te = time.perf_counter()
                loss = _run_epoch(head, pooled_x, pooled_y, opt, sched, self.weight, 64, self.gen, self.device)
                self._epoch_end("frozen", ep, loss, head, va_in, te)
            print(f"frozen phase: {cfg.epochs_frozen} epochs on cached features, best val loss "
                  f"{self.best['val_loss']:.4f} (epoch {self.best['epoch']})", flush=True)
        self.model.load_state_dict(self.best_state)
        self.timings["frozen_seconds"] = time.perf_counter() - t

    def _finetune_setup(self, trainable: list[nn.Module]):
        """Optimizer and one-cycle schedule with fastai-style discriminative rates: geometric from
        ``lr * lr_ratio`` (first fine-tuned stage) up to the head's rate; the batch augmentation."""
        cfg, gen = self.config, self.gen
        lr = cfg.lr_finetune or cfg.lr
        rates = np.geomspace(lr * cfg.lr_ratio, lr, len(trainable) + 1)
        groups = [{"params": list(m.parameters()), "lr": float(r)} for m, r in zip(trainable, rates)]
        groups.append({"params": list(self.model.head.parameters()), "lr": lr})
        opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
        per_epoch = math.ceil(len(self.ytr) / cfg.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups],
                                                    total_steps=cfg.epochs * per_epoch, pct_start=0.3)
        if self.cut == 0:
            aug = lambda x: augment(x, gen)  # noqa: E731
        elif cfg.feature_flips:
            aug = lambda x: flip_features(x, gen)  # noqa: E731
        else:
            aug = None
        return opt, sched, aug

    def _epoch_inputs(self) -> torch.Tensor:
        """One cached view per image and epoch (all views when there is a single one)."""
        pick = torch.randint(0, len(self.tr_views), (len(self.ytr),), generator=self.gen)
        xs = self.tr_views[0]
        if len(self.tr_views) > 1:
            xs = xs.clone()
            for v in range(1, len(self.tr_views)):
                xs[pick == v] = self.tr_views[v][pick == v]
        return xs

    def finetune_phase(self) -> None:
        """Phase 2: fine-tune the unfrozen stages, earlier stages with lower learning rates; early
        stopping on validation loss, the overall best weights restored."""
        from tqdm.auto import tqdm

        t, cfg = time.perf_counter(), self.config
        trainable = [m for m in self.model.body[self.train_from:] if any(True for _ in m.parameters())]
        if cfg.epochs > 0 and len(trainable) > 0:
            opt, sched, aug = self._finetune_setup(trainable)
            net = StartAt(self.model, self.cut, self.train_from)
            bad, phase_best = 0, math.inf
            for ep in range(cfg.epochs):
                te = time.perf_counter()
                xs = self._epoch_inputs()
                bar = tqdm(total=len(self.ytr), desc=f"fine-tune {ep + 1}/{cfg.epochs}", disable=not self.show,
                           leave=False)
                loss = _run_epoch(net, xs, self.ytr, opt, sched, self.weight, cfg.batch_size, self.gen, self.device,
                                  aug, bar, freeze_bn=not cfg.train_bn, label_smoothing=cfg.label_smoothing)
                bar.close()
                vl = self._epoch_end("fine-tune", ep, loss, net, self.va_views, te)
                # one line per epoch, also headless: `workbench run --log-output` streams it (CI, make demo)
                print(f"fine-tune epoch {ep + 1}/{cfg.epochs}: train loss {loss:.4f}, val loss {vl:.4f}, "
                      f"val acc {self.hist['val_accuracy'][-1]:.4f} ({time.perf_counter() - te:.0f} s)", flush=True)
                # patience counts epochs without progress within this phase; the overall best is restored
                if vl < phase_best:
                    phase_best, bad = vl, 0
                else:
                    bad += 1
                    if cfg.patience and bad >= cfg.patience:
                        break
            self.model.load_state_dict(self.best_state)
        self.timings["finetune_seconds"] = time.perf_counter() - t
