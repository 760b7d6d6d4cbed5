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
from torch import nn
import torch.nn.functional as F

from ._vision_backbones import create_body, get_backbone_spec
from .errors import DatasetError, ModelError


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


class ConcatPool(nn.Module):
    """Average and max pooling side by side (fastai's ``AdaptiveConcatPool2d``): max keeps small defects."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean((2, 3)), x.amax((2, 3))], 1)


class ImageClassifier(nn.Module):
    """Backbone stages, then a head on the concat-pooled outputs of the ``taps`` stages (on ELPV the
    middle stages of efficientnet_lite0 classify defects better than the last one): batch norm
    (standardizes the features), dropout and a linear layer. Stages after the last tap are dropped."""

    def __init__(self, body: nn.Sequential, channels: list[int], num_classes: int, dropout: float = 0.5,
                 taps: tuple[int, ...] = (-1,)):
        super().__init__()
        n = len(body)
        bad = [t for t in taps if not -n <= t < n]
        if bad:
            raise ModelError(f"taps {bad} out of range: the backbone has {n} stages (0..{n - 1}, or -1 for the last)")
        self.taps = sorted({t % n for t in taps})
        self.body = nn.Sequential(*list(body)[: self.taps[-1] + 1])
        self.pool = ConcatPool()
        nf = 2 * sum(channels[t] for t in self.taps)
        self.head = nn.Sequential(nn.BatchNorm1d(nf), nn.Dropout(dropout), nn.Linear(nf, num_classes))

    def features(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Pooled tap features; ``x`` is the input of stage ``start`` (a cached frozen-stage output)."""
        out = []
        for i in range(start, len(self.body)):
            x = self.body[i](x)
            if i in self.taps:
                out.append(self.pool(x))
        return torch.cat(out, 1)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        return self.head(self.features(x, start))


class StartAt(nn.Module):
    """``model`` run from stage ``start`` on (inputs: cached outputs of the stages before); stages before
    ``trainable_from`` stay in evaluation mode while training."""

    def __init__(self, model: ImageClassifier, start: int, trainable_from: int | None = None):
        super().__init__()
        self.model, self.start = model, start
        self.trainable_from = start if trainable_from is None else trainable_from

    def train(self, mode: bool = True):
        super().train(mode)
        for i in range(self.start, min(self.trainable_from, len(self.model.body))):
            self.model.body[i].eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, self.start)


def build_classifier(backbone: str, num_classes: int, dropout: float = 0.5, pretrained: bool = True,
                     taps: tuple[int, ...] | None = None) -> ImageClassifier:
    """A classifier on a registered backbone (``taps``: the backbone's default when None)."""
    spec = get_backbone_spec(backbone)
    body, _ = create_body(backbone, pretrained=pretrained)
    channels, x = [], torch.zeros(1, 3, 64, 64)
    with torch.no_grad():
        for stage in body.eval():
            x = stage(x)
            channels.append(x.shape[1])
    return ImageClassifier(body, channels, num_classes, dropout, tuple(taps or spec.taps))


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; deterministic algorithms (warn only). Returns a seeded generator."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


def eval_batch_size(device: torch.device) -> int:
    """Batch size for inference. On CPU small batches are ~2x faster per image (the high-resolution
    early feature maps of 8 images stay in cache; 64 do not); GPUs want large ones."""
    return 8 if device.type == "cpu" else 256


def pick_device(device: str | None = None) -> torch.device:
    """CUDA when present (or the device asked for), else CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# -- tensors and augmentation ---------------------------------------------------------------------

def to_input(u8: np.ndarray | torch.Tensor, mean, std, device=None) -> torch.Tensor:
    """uint8 NHWC pixels -> normalized float NCHW (channels_last)."""
    x = torch.as_tensor(u8)
    if device is not None:
        x = x.to(device, non_blocking=True)
    x = x.permute(0, 3, 1, 2).float().div_(255)
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous(memory_format=torch.channels_last)


def augment(x: torch.Tensor, gen: torch.Generator, degrees: float = 8.0, brightness: float = 0.15,
            contrast: float = 0.15) -> torch.Tensor:
    """Batched augmentation for inspection images (normalized NCHW): flips, a small rotation,
    brightness and contrast. Deterministic given ``gen``."""
    n = x.shape[0]
    r = torch.rand(n, 5, generator=gen).to(x.device)
    x = torch.where((r[:, 0] < 0.5).view(n, 1, 1, 1), x.flip(3), x)
    x = torch.where((r[:, 1] < 0.5).view(n, 1, 1, 1), x.flip(2), x)
    if degrees:
        a = (r[:, 2] * 2 - 1) * math.radians(degrees)
        theta = torch.zeros(n, 2, 3, device=x.device)
        theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = a.cos(), -a.sin(), a.sin(), a.cos()
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    c = 1 + (r[:, 3] * 2 - 1).view(n, 1, 1, 1) * contrast
    b = (r[:, 4] * 2 - 1).view(n, 1, 1, 1) * brightness * 2  # inputs span about [-1, 1]
    mu = x.mean((1, 2, 3), keepdim=True)
    return ((x - mu) * c + mu + b).contiguous(memory_format=torch.channels_last)


def flip_features(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal and vertical flips per sample of cached NCHW feature maps (after the frozen
    stages), so every epoch sees other orientations than the cached views."""
    n = x.shape[0]
    r = torch.rand(n, 2, generator=gen).to(x.device).view(n, 2, 1, 1, 1)
    x = torch.where(r[:, 0] < 0.5, x.flip(3), x)
    x = torch.where(r[:, 1] < 0.5, x.flip(2), x)
    return x.contiguous(memory_format=torch.channels_last)


TTA_VIEWS = ("none", "hflip", "vflip", "hvflip")


def flip_view(x: torch.Tensor, view: str) -> torch.Tensor:
    """One of :data:`TTA_VIEWS` of an NCHW batch (test-time augmentation averages all four)."""
    if view in ("hflip", "hvflip"):
        x = x.flip(3)
    if view in ("vflip", "hvflip"):
        x = x.flip(2)
    return x


def tta_views(tta: bool) -> tuple[str, ...]:
    return TTA_VIEWS if tta else TTA_VIEWS[:1]


def _cl(x: torch.Tensor) -> torch.Tensor:
    """channels_last for image-like (4-d) tensors, unchanged otherwise."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def _batches(n: int, bs: int):
    for i in range(0, n, bs):
        yield slice(i, min(i + bs, n))


@torch.inference_mode()
def encode(stages: nn.Module, pixels: np.ndarray, mean, std, bs: int, device, view: str = "none",
           gen: torch.Generator | None = None, progress=None) -> torch.Tensor:
    """Outputs of frozen ``stages`` for every image (kept on CPU, float32).

    ``view``: ``"none"`` (original), a flip (``"hflip"``, ``"vflip"``, ``"hvflip"``), or ``"aug"``
    (random augmentation from ``gen``).
    """
    stages.eval()
    out = []
    for s in _batches(len(pixels), bs):
        x = to_input(pixels[s], mean, std, device)
        if view in TTA_VIEWS:
            x = flip_view(x, view)
        elif view == "aug":
            x = augment(x, gen)
        out.append(stages(x).float().cpu())
        if progress is not None:
            progress.update(s.stop - s.start)
    return torch.cat(out) if out else torch.empty(0)


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


@torch.inference_mode()
def predict_proba(model: nn.Module, xs: list[torch.Tensor], bs: int, device) -> np.ndarray:
    """Mean softmax over views (each an input tensor for ``model``), evaluation mode."""
    model.eval()
    probs = 0
    for v in xs:
        p = torch.cat([model(_cl(v[s].to(device))).float().softmax(1).cpu()
                       for s in _batches(len(v), bs)])
        probs = probs + p
    return (probs / len(xs)).numpy()


def _val_metrics(model, views, y: np.ndarray, weight: torch.Tensor, bs: int, device) -> tuple[float, float]:
    p = predict_proba(model, views, bs, device)
    loss = F.nll_loss(torch.log(torch.from_numpy(p).clamp_min(1e-7)), torch.from_numpy(y), weight=weight).item()
    return loss, float((p.argmax(1) == y).mean())


def fit_classifier(train_pixels: np.ndarray, train_labels: np.ndarray, val_pixels: np.ndarray,
                   val_labels: np.ndarray, classes: list[str], config: TrainConfig) -> FitResult:
    """Train a classifier in two phases (see module docstring); the best validation weights are kept.

    Pixels are uint8 ``(n, size, size, 3)`` arrays from :func:`workbench.images.load_pixels`.
    """
    from tqdm.auto import tqdm

    from ._context import in_headless_run

    config.validate()
    k = len(classes)
    if k < 2:
        raise DatasetError(f"need at least two classes to train, got {classes}")
    t0 = time.perf_counter()
    gen = seed_everything(config.seed)
    device = pick_device(config.device)
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    show = (not in_headless_run()) if config.progress is None else config.progress
    spec = get_backbone_spec(config.backbone)
    model = build_classifier(config.backbone, k, config.dropout, taps=config.taps)
    model = model.to(device).to(memory_format=torch.channels_last)
    n_stages = len(model.body)
    # stages before ``train_from`` stay frozen; those before ``cut`` (never after the first tap) are cached
    train_from = 0 if config.unfreeze == "all" else max(0, n_stages - int(config.unfreeze))
    cut = min(train_from, model.taps[0])
    frozen = model.body[:cut]  # empty (identity) when cut is 0
    for p in model.body[:train_from].parameters():
        p.requires_grad_(False)
    ytr, yva = torch.as_tensor(train_labels, dtype=torch.long), np.asarray(val_labels)
    weight = _class_weights(np.asarray(train_labels), k) if config.class_weight == "balanced" else torch.ones(k)
    hist: dict[str, list] = {"phase": [], "epoch": [], "train_loss": [], "val_loss": [], "val_accuracy": [],
                             "seconds": []}
    timings: dict[str, float] = {}

    # cache: outputs of the frozen stages, per view
    t = time.perf_counter()
    # nothing cached (cut 0): the pixels themselves, augmented online in phase 2
    kinds = (["none", "hflip"] + ["aug"] * max(0, int(config.views) - 2))[: int(config.views)] if cut > 0 else ["none"]
    total = len(train_pixels) * len(kinds) + len(val_pixels) * len(tta_views(config.tta))
    bar = tqdm(total=total, desc="frozen features", disable=not show, leave=False)
    bs_eval = eval_batch_size(device)
    tr_views = [encode(frozen, train_pixels, spec.mean, spec.std, bs_eval, device, v, gen, bar) for v in kinds]
    va_views = [encode(frozen, val_pixels, spec.mean, spec.std, bs_eval, device, v, progress=bar)
                for v in tta_views(config.tta)]
    bar.close()
    timings["cache_seconds"] = time.perf_counter() - t

    # phase 1: frozen backbone, train the head on pooled features of every cached view
    t = time.perf_counter()
    model.eval()
    best = {"val_loss": math.inf, "val_accuracy": 0.0, "phase": "frozen", "epoch": 0}
    best_state = copy.deepcopy(model.state_dict())
    if config.epochs_frozen > 0:
        with torch.inference_mode():
            pooled = [torch.cat([model.features(_cl(v[s].to(device)), cut).cpu()
                                 for s in _batches(len(v), bs_eval)]) for v in tr_views]
            va_in = [torch.cat([model.features(_cl(v[s].to(device)), cut).cpu()
                                for s in _batches(len(v), bs_eval)]) for v in va_views]
        pooled_x, pooled_y = torch.cat(pooled).clone(), ytr.repeat(len(pooled))
        va_in = [v.clone() for v in va_in]
        head_only = model.head
        opt = torch.optim.AdamW(head_only.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        steps = config.epochs_frozen * math.ceil(len(pooled_x) / 64)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=max(steps, 1), pct_start=0.25)
        for ep in range(config.epochs_frozen):
            te = time.perf_counter()
            loss = _run_epoch(head_only, pooled_x, pooled_y, opt, sched, weight, 64, gen, device)
            vl, va = _val_metrics(head_only, va_in, yva, weight, bs_eval, device)
            for key, val in zip(hist, ("frozen", ep + 1, loss, vl, va, time.perf_counter() - te)):
                hist[key].append(val)
            if vl < best["val_loss"]:
                best = {"val_loss": vl, "val_accuracy": va, "phase": "frozen", "epoch": ep + 1}
                best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    timings["frozen_seconds"] = time.perf_counter() - t

    # phase 2: fine-tune the unfrozen stages, earlier stages with lower learning rates
    t = time.perf_counter()
    trainable = [m for m in model.body[train_from:] if any(True for _ in m.parameters())]
    if config.epochs > 0 and len(trainable) > 0:
        # fastai-style discriminative rates: geometric from lr * lr_ratio (first stage) up to the head's lr
        lr = config.lr_finetune or config.lr
        rates = np.geomspace(lr * config.lr_ratio, lr, len(trainable) + 1)
        groups = [{"params": list(m.parameters()), "lr": float(r)} for m, r in zip(trainable, rates)]
        groups.append({"params": list(model.head.parameters()), "lr": lr})
        opt = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
        per_epoch = math.ceil(len(ytr) / config.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups],
                                                    total_steps=config.epochs * per_epoch, pct_start=0.3)
        net = StartAt(model, cut, train_from)
        if cut == 0:
            aug = lambda x: augment(x, gen)  # noqa: E731
        elif config.feature_flips:
            aug = lambda x: flip_features(x, gen)  # noqa: E731
        else:
            aug = None
        bad, phase_best = 0, math.inf
        for ep in range(config.epochs):
            te = time.perf_counter()
            # one cached view per image and epoch (all views when there is a single one)
            pick = torch.randint(0, len(tr_views), (len(ytr),), generator=gen)
            xs = tr_views[0]
            if len(tr_views) > 1:
                xs = xs.clone()
                for v in range(1, len(tr_views)):
                    xs[pick == v] = tr_views[v][pick == v]
            bar = tqdm(total=len(ytr), desc=f"fine-tune {ep + 1}/{config.epochs}", disable=not show, leave=False)
            loss = _run_epoch(net, xs, ytr, opt, sched, weight, config.batch_size, gen, device, aug, bar,
                              freeze_bn=not config.train_bn, label_smoothing=config.label_smoothing)
            bar.close()
            vl, va = _val_metrics(net, va_views, yva, weight, bs_eval, device)
            for key, val in zip(hist, ("fine-tune", ep + 1, loss, vl, va, time.perf_counter() - te)):
                hist[key].append(val)
            if show:
                print(f"fine-tune epoch {ep + 1}: train loss {loss:.4f}, val loss {vl:.4f}, val acc {va:.4f}")
            if vl < best["val_loss"]:
                best = {"val_loss": vl, "val_accuracy": va, "phase": "fine-tune", "epoch": ep + 1}
                best_state = copy.deepcopy(model.state_dict())
            # patience counts epochs without progress within this phase; the overall best is restored
            if vl < phase_best:
                phase_best, bad = vl, 0
            else:
                bad += 1
                if config.patience and bad >= config.patience:
                    break
        model.load_state_dict(best_state)
    timings["finetune_seconds"] = time.perf_counter() - t
    timings["train_seconds"] = time.perf_counter() - t0
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    return FitResult(model, list(classes), config, hist, timings, best, cut)
