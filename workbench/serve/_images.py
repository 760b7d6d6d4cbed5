"""``POST /models/{name}/predict`` for image models: ``multipart/form-data`` with the images in ``files``.

Images are decoded from memory by the model (``Predictor.predict_images``): an upload's file name only
labels its row (it never names a file here), an image that cannot be decoded, or is too large when
decoded, is a row with an ``error``, never a failed request. One prediction runs at a time per model
(the network already uses every core); the answer is cached by the images' hashes and names.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..models import frame_records
from ._json import dumps
from ._logs import utc_now
from ._models import ServedModel
from ._state import ServerState, compute
from ._tables import media_type, read_form, unsupported

MAX_NAME = 255


def _label(upload: UploadFile, i: int) -> str:
    name = (upload.filename or "").replace("\x00", "").strip()
    return name[:MAX_NAME] or f"image-{i + 1}"


async def read_images(state: ServerState, request: Request) -> list[tuple[str, bytes]]:
    """The uploaded images as ``(label, bytes)``, in order (422 without any; 413 over ``--max-images``)."""
    if media_type(request) != "multipart/form-data":
        raise unsupported(media_type(request), "multipart/form-data with the images in the field 'files' "
                                               "(curl -F files=@a.png -F files=@b.png)")
    limit = state.config.max_images
    form = await read_form(request, limit, "images")
    try:
        uploads = [*form.getlist("files"), *form.getlist("file")]
        if len(uploads) > limit:
            raise HTTPException(413, f"too many images in one request (at most {limit}); send them in batches")
        bad = [u for u in uploads if not isinstance(u, UploadFile)]
        if bad or not uploads:
            raise HTTPException(422, [{"loc": ["body", "files"], "type": "missing" if not uploads else "file_type",
                                       "msg": "send the images as file uploads in the field 'files' (multipart/form-data)"}])
        return [(_label(u, i), await u.read()) for i, u in enumerate(uploads)]
    finally:
        await form.close()


def _predict(sm: ServedModel, images: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    with sm.lock:
        frame = sm.predictor.predict_images(images)
    rows = frame_records(frame)
    return [{"filename": name, **{k: v for k, v in r.items() if k != "path"}} for (name, _), r in zip(images, rows)]


async def predict_images(state: ServerState, sm: ServedModel, request: Request) -> Response:
    """Classes and probabilities per uploaded image (see the module docstring)."""
    start = time.perf_counter()
    _, ts = utc_now()
    images = await read_images(state, request)
    h = hashlib.blake2b(digest_size=16)
    for name, data in images:
        h.update(dumps([name, len(data), hashlib.sha256(data).hexdigest()]))
    group = f"{sm.digest}:i:{h.hexdigest()}"
    rows_json = await state.cache.get(group)
    m = state.metrics
    if rows_json is None:
        m.cache_misses.labels(sm.name).inc()
        rows = await compute(_predict, sm, images)
        rows_json = dumps(rows)
        m.row_errors.labels(sm.name).inc(sum(r.get("error") is not None for r in rows))
        await state.cache.set(group, rows_json)
    else:
        m.cache_hits.labels(sm.name).inc()
    m.rows.labels(sm.name).inc(len(images))
    inputs = [{"filename": name, "size_bytes": len(data)} for name, data in images]
    state.request_log.add(sm.name, ts, 1000 * (time.perf_counter() - start), inputs, rows_json, skip=("filename",))
    head = dumps({"model": sm.name, "version": sm.version})[:-1]
    return Response(head + b',"predictions":' + rows_json + b"}", media_type="application/json")
