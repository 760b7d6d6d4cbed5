"""Diagnostics of a vision run: dataset overview, step timings, learning curves, confusion matrix,
per-class scores, ROC, and a gallery of the worst mistakes (a widget interactively, a static grid in
reports). :class:`~workbench.vision.VisionRun` offers them as its sections."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np

from .. import evaluation as plots


def dataset_overview(ds) -> Any:
    """Display a one-line summary, class counts and the skipped files with reasons; returns the
    skipped-files table."""
    from IPython.display import HTML, display

    counts = "".join(f"<tr><td>{html.escape(c)}</td><td>{n}</td></tr>" for c, n in ds.class_counts().items())
    msg = (f"<p><b>{html.escape(ds.name)}</b>: {len(ds)} images in {len(ds.classes)} classes; "
           f"<b>{len(ds.skipped)}</b> file(s) skipped.</p>"
           f"<table><tr><th>class</th><th>images</th></tr>{counts}</table>")
    display(HTML(msg))
    table = ds.skipped_table()
    if len(table):
        reasons = table["reason"].str.replace(r" \(.*", "", regex=True).value_counts()
        display(HTML("<p>Skipped files by reason:</p>" + reasons.rename("files").to_frame().to_html()))
        display(table)
    return table


def learning_curves(run):
    """Train/validation loss and validation accuracy per epoch, both phases on one axis."""
    h = run.fit.history
    x = [f"{'F' if p == 'frozen' else 'T'}{e}" for p, e in zip(h["phase"], h["epoch"])]
    fig = plots.learning_curve_figure({"train_loss": h["train_loss"], "val_loss": h["val_loss"],
                                       "val_accuracy": h["val_accuracy"]}, x=x,
                                      title="Learning curves (F: frozen backbone, T: fine-tuning)")
    fig.update_xaxes(type="category")
    return fig


def confusion_matrix(run, normalize: bool = False):
    """Confusion matrix on the test set, class names on both axes."""
    y = [run.classes[i] for i in run.test.labels]
    p = [run.classes[i] for i in run.test_pred]
    return plots.confusion_matrix_figure(y, p, labels=run.classes, normalize=normalize,
                                         title="Confusion matrix (test set)")


def class_report(run):
    """Per-class precision, recall, F1 and support on the test set (a DataFrame)."""
    import pandas as pd
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(run.test.labels, run.test_pred, labels=range(len(run.classes)),
                                                 zero_division=0)
    df = pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": s}, index=run.classes)
    df.index.name = "class"
    return df.round(4)


def roc(run):
    """ROC curve of the positive (second) class for binary tasks; ``None`` otherwise."""
    if len(run.classes) != 2:
        return None
    return plots.roc_figure(run.test.labels, {"test": run.test_probs[:, 1]}, pos_label=1,
                            title=f"ROC curve (positive class: {run.classes[1]})")


def worst_mistakes(run, k: int = 24) -> list[int]:
    """Test indices of wrong predictions, most confident first."""
    y, probs = run.test.labels, run.test_probs
    wrong = np.flatnonzero(probs.argmax(1) != y)
    true_p = probs[wrong, y[wrong]]
    return [int(i) for i in wrong[np.argsort(true_p, kind="stable")][:k]]


def _png(u8: np.ndarray, size: int | None = 128) -> bytes:
    """PNG bytes of an RGB image (shrunk to fit ``size``); a gray one (equal channels, as ELPV's cells) as a
    grayscale PNG, a third of the bytes for the same pixels in a browser."""
    from PIL import Image

    im = Image.fromarray(u8)
    if size:
        im.thumbnail((size, size))
    a = np.asarray(im)
    if a.ndim == 3 and a.shape[2] == 3 and (a[..., 0] == a[..., 1]).all() and (a[..., 0] == a[..., 2]).all():
        im = Image.fromarray(np.ascontiguousarray(a[..., 0]))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _caption(run, i: int) -> str:
    import os

    y, p = run.test.labels[i], run.test_probs[i]
    return (f"{os.path.basename(run.test.paths[i])}: true {run.classes[y]}, predicted "
            f"{run.classes[int(p.argmax())]} ({p.max():.0%})")


def mistakes_grid_html(run, idx: list[int], columns: int = 6) -> str:
    """A static HTML grid of the given test images with captions (self-contained, base64 PNGs)."""
    if not idx:
        return "<p>No mistakes on the test set.</p>"
    cells = []
    for i in idx:
        b64 = base64.b64encode(_png(run.test_pixels[i])).decode()
        cells.append(f'<figure style="margin:4px;text-align:center;width:140px">'
                     f'<img src="data:image/png;base64,{b64}" style="width:128px;height:128px;image-rendering:pixelated"/>'
                     f'<figcaption style="font-size:11px">{html.escape(_caption(run, i))}</figcaption></figure>')
    return (f'<p>Worst {len(idx)} mistakes on the test set (most confident first)</p>'
            f'<div style="display:grid;grid-template-columns:repeat({columns},148px)">{"".join(cells)}</div>')


def mistakes(run, k: int = 24, widget: bool | None = None):
    """Show the worst mistakes: a browsable widget interactively, a static grid in headless runs."""
    from IPython.display import HTML, display

    from ..core.context import in_headless_run

    idx = worst_mistakes(run, k)
    if widget is None:
        widget = not in_headless_run()
    if not widget or not idx:
        display(HTML(mistakes_grid_html(run, idx)))
        return idx
    import ipywidgets as w

    img = w.Image(format="png", width=256, height=256)
    cap = w.HTML()
    slider = w.IntSlider(min=0, max=len(idx) - 1, value=0, description="mistake")

    def show(change=None):
        i = idx[slider.value]
        img.value = _png(run.test_pixels[i], 256)
        cap.value = f"<b>{html.escape(_caption(run, i))}</b>"

    slider.observe(show, names="value")
    show()
    display(w.VBox([slider, img, cap]))
    return idx


def timings_table(run):
    """Wall-clock seconds per step (decode, frozen-feature cache, phases, test) and the best epoch."""
    import pandas as pd

    rows = {k.replace("_seconds", ""): round(v, 1) for k, v in run.timings.items()}
    df = pd.DataFrame({"seconds": rows})
    df.index.name = "step"
    best = run.fit.best
    df.attrs["best"] = best
    print(f"best validation loss {best.get('val_loss', float('nan')):.4f} at {best.get('phase')} epoch "
          f"{best.get('epoch')} (val accuracy {best.get('val_accuracy', float('nan')):.4f}); "
          f"fine-tuned stages: {len(run.model.body) - run.fit.cut} of {len(run.model.body)}")
    return df
