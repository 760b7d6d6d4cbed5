"""The classifier network: backbone stages, then a head on pooled features of chosen stages."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ModelError
from ._backbones import create_body, get_backbone_spec


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

