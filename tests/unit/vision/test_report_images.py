"""The report's images: gray images (ELPV's cells) are stored as grayscale PNGs, the same pixels in a browser."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from support import render_dom

from workbench.vision._report import _png


def _gray(seed: int = 0, size: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = (rng.normal(128, 40, (size, size)).clip(0, 255)).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def _rgb_png(u8: np.ndarray, size: int) -> bytes:
    """What the report stored before: an RGB PNG of the shrunk image."""
    im = Image.fromarray(u8)
    im.thumbnail((size, size))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_gray_images_are_grayscale_pngs_with_the_same_pixels():
    u8 = _gray()
    small, old = _png(u8, 128), _rgb_png(u8, 128)
    assert Image.open(io.BytesIO(small)).mode == "L" and len(small) < 0.6 * len(old)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(small)).convert("RGB")),
                                  np.asarray(Image.open(io.BytesIO(old))))
    colored = u8.copy()
    colored[0, 0, 0] ^= 1  # one channel differs: stays RGB
    assert Image.open(io.BytesIO(_png(colored, None))).mode == "RGB"


def test_a_grayscale_png_draws_the_same_pixels_as_the_rgb_one_in_chromium(tmp_path):
    u8 = _gray(seed=1, size=128)
    a, b = (base64.b64encode(p).decode() for p in (_png(u8, 128), _rgb_png(u8, 128)))
    page = tmp_path / "page.html"
    page.write_text(f"""<!doctype html><html><body>
<img id="a" src="data:image/png;base64,{a}"><img id="b" src="data:image/png;base64,{b}">
<script>
function pixels(img) {{
  const c = document.createElement("canvas"); c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext("2d"); ctx.drawImage(img, 0, 0);
  return ctx.getImageData(0, 0, c.width, c.height).data;
}}
window.addEventListener("load", () => {{
  const pa = pixels(document.getElementById("a")), pb = pixels(document.getElementById("b"));
  let diff = pa.length === pb.length && pa.length === 128 * 128 * 4 ? 0 : -1;
  for (let i = 0; diff >= 0 && i < pa.length; i++) if (pa[i] !== pb[i]) diff++;
  document.body.setAttribute("data-diff", String(diff));
}});
</script></body></html>""")
    assert 'data-diff="0"' in render_dom(page)
