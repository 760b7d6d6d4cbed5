"""The endpoint of models with an image input (:class:`ImageEndpoint`): ``POST /models/{name}/predict``
takes ``multipart/form-data`` with the images in ``files``.

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
from ._endpoint import ServedModel
from ._http import invalid, media_type, read_form, unsupported
from ._json import dumps
from ._logs import utc_now
from ._openapi import answer, errors, prediction_row
from ._state import ServerState, compute

MAX_NAME = 255


def _label(upload: UploadFile, i: int) -> str:
    name = (upload.filename or "").replace("\x00", "").strip()
    return name[:MAX_NAME] or f"image-{i + 1}"


class ImageEndpoint(ServedModel):
    """A model with an image input: ``POST /models/<name>/predict`` takes uploaded images."""

    input_type = "image"
    label = "image"

    def _doc(self) -> dict[str, Any]:
        content = {"multipart/form-data": {"schema": {"type": "object", "required": ["files"], "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                      "description": f"PNG, JPEG, BMP or TIFF images (at most {self.config.max_images})"}}}}}
        rows = answer(self.name, prediction_row(self, {"filename": {"type": "string"}}))
        return {"summary": f"Classify images with {self.card.name!r} ({', '.join(map(str, self.card.classes))})",
                "description": "An image that cannot be read is a row with an error.",
                "extra": {"requestBody": {"required": True, "content": content},
                          "responses": {"200": {"description": "one row per image, in order",
                                                "content": {"application/json": {"schema": rows}}},
                                        **errors({413: "too many images or too large a body",
                                                  415: "unsupported media type", 422: "no images in the field 'files'"})}}}

    async def read(self, request: Request) -> list[tuple[str, bytes]]:
        """The uploaded images as ``(label, bytes)``, in order (422 without any; 413 over ``max_images``)."""
        if media_type(request) != "multipart/form-data":
            raise unsupported(media_type(request), "multipart/form-data with the images in the field 'files' "
                                                   "(curl -F files=@a.png -F files=@b.png)")
        limit = self.config.max_images
        form = await read_form(request, limit, "images")
        try:
            uploads = [*form.getlist("files"), *form.getlist("file")]
            if len(uploads) > limit:
                raise HTTPException(413, f"too many images in one request (at most {limit}); send them in batches")
            if not uploads or any(not isinstance(u, UploadFile) for u in uploads):
                raise invalid("send the images as file uploads in the field 'files' (multipart/form-data)",
                              ["body", "files"], "missing" if not uploads else "file_type")
            return [(_label(u, i), await u.read()) for i, u in enumerate(uploads)]
        finally:
            await form.close()

    def _predict(self, images: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
        with self.lock:
            frame = self.predictor.predict_images(images)
        rows = frame_records(frame)
        return [{"filename": name, **{k: v for k, v in r.items() if k != "path"}} for (name, _), r in zip(images, rows)]

    async def predict(self, state: ServerState, request: Request) -> Response:
        """Classes and probabilities per uploaded image (see the module docstring)."""
        start = time.perf_counter()
        _, ts = utc_now()
        images = await self.read(request)
        h = hashlib.blake2b(digest_size=16)
        for name, data in images:
            h.update(dumps([name, len(data), hashlib.sha256(data).hexdigest()]))
        group = f"{self.digest}:i:{h.hexdigest()}"
        rows_json = await state.cache.get(group)
        m = state.metrics
        if rows_json is None:
            m.cache_misses.labels(self.name).inc()
            rows = await compute(self._predict, images)
            rows_json = dumps(rows)
            m.row_errors.labels(self.name).inc(sum(r.get("error") is not None for r in rows))
            await state.cache.set(group, rows_json)
        else:
            m.cache_hits.labels(self.name).inc()
        m.rows.labels(self.name).inc(len(images))
        inputs = [{"filename": name, "size_bytes": len(data)} for name, data in images]
        state.request_log.add(self.name, ts, 1000 * (time.perf_counter() - start), inputs, rows_json,
                              skip=("filename",))
        return self.predictions(rows_json)
