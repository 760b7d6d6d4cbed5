"""Two-phase transfer learning on CPU budgets: frozen head training on cached features, then
fine-tuning of the last stages with discriminative learning rates.

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

    ``unfreeze`` is how many trailing backbone stages fine-tune in phase 2 (``"all"``: every one);
    ``views`` is how many fixed augmented views of each training image are cached for them;
    ``lr_ratio``: the first fine-tuned stage learns at ``lr * lr_ratio``, later ones geometrically
    closer to ``lr``; ``train_bn=False`` keeps batch-norm statistics from the frozen phase.
    """

    backbone: str = "efficientnet_lite0"
    image_size: int = 224
    epochs_frozen: int = 30
    epochs: int = 5
    batch_size: int = 32
    lr: float = 3e-4
    lr_ratio: float = 0.01
    train_bn: bool = False
    unfreeze: int | str = 2
    views: int = 2
    weight_decay: float = 0.05
    dropout: float = 0.5
    patience: int = 2
    val_size: float = 0.15
    tta: bool = True
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
        if isinstance(self.unfreeze, int) and not isinstance(self.unfreeze, bool) and self.unfreeze < 0:
            self.unfreeze = "all"
        if self.unfreeze != "all" and not (isinstance(self.unfreeze, int) and self.unfreeze >= 0):
            raise ModelError(f"unfreeze must be a number of trailing stages (>= 0; -1 for all) or 'all', "
                             f"got {self.unfreeze!r}")
        if int(self.views) < 1:
            raise ModelError(f"views must be >= 1, got {self.views!r}")


class ConcatPool(nn.Module):
    """Average and max pooling side by side (fastai's ``AdaptiveConcatPool2d``): max keeps small defects."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean((2, 3)), x.amax((2, 3))], 1)


class ImageClassifier(nn.Module):
    """Backbone stages, then concat pooling, batch norm (standardizes the features), dropout and a
    linear layer."""

    def __init__(self, body: nn.Sequential, num_features: int, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.body = body
        self.head = nn.Sequential(ConcatPool(), nn.BatchNorm1d(2 * num_features), nn.Dropout(dropout),
                                  nn.Linear(2 * num_features, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def build_classifier(backbone: str, num_classes: int, dropout: float = 0.5, pretrained: bool = True) -> ImageClassifier:
    """A classifier on a registered backbone."""
    body, nf = create_body(backbone, pretrained=pretrained)
    return ImageClassifier(body, nf, num_classes, dropout)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; deterministic algorithms (warn only). Returns a seeded generator."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


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

    ``view``: ``"none"`` (original), ``"hflip"``, or ``"aug"`` (random augmentation from ``gen``).
    """
    stages.eval()
    out = []
    for s in _batches(len(pixels), bs):
        x = to_input(pixels[s], mean, std, device)
        if view == "hflip":
            x = x.flip(3)
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
    cut: int = 0
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def meta(self) -> dict[str, Any]:
        spec = get_backbone_spec(self.config.backbone)
        return {"backbone": self.config.backbone, "classes": list(self.classes), "image_size": self.config.image_size,
                "mean": list(spec.mean), "std": list(spec.std), "tta": self.config.tta,
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
               bs: int, gen: torch.Generator, device, aug=None, bar=None, freeze_bn: bool = False) -> float:
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
        loss = F.cross_entropy(model(x), y, weight=weight)
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
    model = build_classifier(config.backbone, k, config.dropout).to(device).to(memory_format=torch.channels_last)
    n_stages = len(model.body)
    cut = 0 if config.unfreeze == "all" else max(0, n_stages - int(config.unfreeze))
    frozen, tail = model.body[:cut], model.body[cut:]
    for p in frozen.parameters():
        p.requires_grad_(False)
    ytr, yva = torch.as_tensor(train_labels, dtype=torch.long), np.asarray(val_labels)
    weight = _class_weights(np.asarray(train_labels), k)
    hist: dict[str, list] = {"phase": [], "epoch": [], "train_loss": [], "val_loss": [], "val_accuracy": [],
                             "seconds": []}
    timings: dict[str, float] = {}

    # cache: outputs of the frozen stages, per view
    t = time.perf_counter()
    n_views = int(config.views) if cut > 0 else 0
    total = len(train_pixels) * max(n_views, 1) + len(val_pixels) * (2 if config.tta else 1)
    bar = tqdm(total=total, desc="frozen features", disable=not show, leave=False)
    kinds = ["none", "hflip"] + ["aug"] * max(0, n_views - 2)
    bs_eval = max(config.batch_size, 64)
    if cut > 0:
        tr_views = [encode(frozen, train_pixels, spec.mean, spec.std, bs_eval, device, v, gen, bar)
                    for v in kinds[:n_views]]
    else:
        tr_views = [encode(nn.Identity(), train_pixels, spec.mean, spec.std, bs_eval, device, "none")]
    va_views = [encode(frozen if cut > 0 else nn.Identity(), val_pixels, spec.mean, spec.std, bs_eval, device, v,
                       progress=bar) for v in (["none", "hflip"] if config.tta else ["none"])]
    bar.close()
    timings["cache_seconds"] = time.perf_counter() - t

    # phase 1: frozen backbone, train the head on pooled features of every cached view
    t = time.perf_counter()
    tail.eval()
    with torch.inference_mode():
        pooled = [torch.cat([model.head[0](tail(_cl(v[s].to(device)))).cpu()
                             for s in _batches(len(v), bs_eval)]) for v in tr_views]
        va_pooled = [torch.cat([model.head[0](tail(_cl(v[s].to(device)))).cpu()
                                for s in _batches(len(v), bs_eval)]) for v in va_views]
    pooled_x, pooled_y = torch.cat(pooled).clone(), ytr.repeat(len(pooled))
    head_only = model.head[1:]
    opt = torch.optim.AdamW(head_only.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs_frozen * math.ceil(len(pooled_x) / 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=max(steps, 1), pct_start=0.25)
    va_in = [v.clone() for v in va_pooled]
    best = {"val_loss": math.inf, "val_accuracy": 0.0, "phase": "frozen", "epoch": 0}
    best_state = copy.deepcopy(model.state_dict())
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
    trainable = [m for m in tail if any(True for _ in m.parameters())]
    if config.epochs > 0 and len(trainable) > 0:
        # fastai-style discriminative rates: geometric from lr * lr_ratio (first stage) up to the head's lr
        rates = np.geomspace(config.lr * config.lr_ratio, config.lr, len(trainable) + 1)
        groups = [{"params": list(m.parameters()), "lr": float(r)} for m, r in zip(trainable, rates)]
        groups.append({"params": list(model.head.parameters()), "lr": config.lr})
        opt = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
        per_epoch = math.ceil(len(ytr) / config.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups],
                                                    total_steps=config.epochs * per_epoch, pct_start=0.3)
        net = nn.Sequential(tail, model.head)
        aug = (lambda x: augment(x, gen)) if cut == 0 else None
        bad, phase_best = 0, math.inf
        for ep in range(config.epochs):
            te = time.perf_counter()
            # one cached view per image and epoch (all views when there is a single one)
            pick = torch.randint(0, len(tr_views), (len(ytr),), generator=gen)
            xs = tr_views[0] if len(tr_views) == 1 else torch.stack(tr_views)[pick, torch.arange(len(ytr))]
            bar = tqdm(total=len(ytr), desc=f"fine-tune {ep + 1}/{config.epochs}", disable=not show, leave=False)
            loss = _run_epoch(net, xs, ytr, opt, sched, weight, config.batch_size, gen, device, aug, bar,
                              freeze_bn=not config.train_bn)
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
    return FitResult(model, list(classes), config, hist, timings, best, cut, cache={"frozen": frozen})
