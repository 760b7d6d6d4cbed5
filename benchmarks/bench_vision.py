"""Vision training speed against plain PyTorch/timm baselines, measured in the same run.

1. Fine-tuning throughput (images/s, whole network trained): workbench's loop (pre-decoded pixels,
   batched augmentation, channels_last, no per-step host sync) against a plain loop (per-sample
   torchvision transforms from PIL images through a DataLoader, NCHW, ``loss.item()`` every step),
   same backbone, batch size and resolution.
2. Frozen phase: workbench caches the frozen backbone's features once and trains the head on them,
   against the same phase where every epoch runs each image through the frozen backbone again.

Sides alternate (A B A B ...) and medians are quoted. Real ELPV images. Run from the repository root::

    python benchmarks/bench_vision.py                 # defaults
    python benchmarks/bench_vision.py --quick         # a smoke run in well under a minute
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F


def _setup(args):
    from workbench.data import load_image_dataset, load_pixels

    ds = load_image_dataset("elpv", max_images=args.images, seed=0)
    px, _ = load_pixels(ds.paths, args.size)
    return ds, px


def bench_training(args, ds, px) -> dict:
    from PIL import Image
    from torchvision import transforms as T

    from workbench.vision import augment, build_classifier, seed_everything, to_input
    from workbench.vision._train import _run_epoch

    n = args.batch * args.steps
    y = torch.as_tensor(ds.labels[:n], dtype=torch.long)
    w = torch.ones(2)

    # ours: uint8 pixels -> normalized channels_last batch -> batched augmentation
    ours = build_classifier("efficientnet_lite0", 2).to(memory_format=torch.channels_last)
    opt_o = torch.optim.AdamW(ours.parameters(), 1e-4)
    xs = to_input(px[:n], (0.5,) * 3, (0.5,) * 3)
    gen = seed_everything(0)

    def run_ours() -> float:
        t = time.perf_counter()
        _run_epoch(ours, xs, y, opt_o, None, w, args.batch, gen, torch.device("cpu"), lambda x: augment(x, gen))
        return n / (time.perf_counter() - t)

    # plain: per-sample transforms from PIL images, DataLoader, NCHW, loss.item() per step
    plain = build_classifier("efficientnet_lite0", 2)
    opt_p = torch.optim.AdamW(plain.parameters(), 1e-4)
    tf = T.Compose([T.RandomHorizontalFlip(), T.RandomVerticalFlip(), T.RandomRotation(8),
                    T.ColorJitter(0.15, 0.15), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])
    images = [Image.fromarray(a) for a in px[:n]]

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return tf(images[i]), int(y[i])

    loader = torch.utils.data.DataLoader(DS(), batch_size=args.batch, shuffle=True, num_workers=0)

    def run_plain() -> float:
        plain.train()
        t = time.perf_counter()
        losses = []
        for xb, yb in loader:
            loss = F.cross_entropy(plain(xb), yb)
            opt_p.zero_grad()
            loss.backward()
            opt_p.step()
            losses.append(loss.item())
        return n / (time.perf_counter() - t)

    run_ours(), run_plain()  # warm-up
    a, b = [], []
    for _ in range(args.repeats):
        a.append(run_ours())
        b.append(run_plain())
    return {"ours": statistics.median(a), "plain": statistics.median(b), "all_ours": a, "all_plain": b}


def bench_frozen(args, ds, px) -> dict:
    from workbench.vision import build_classifier, encode, eval_batch_size, to_input
    from workbench.vision._train import _run_epoch

    n = min(len(px), args.frozen_images)
    y = torch.as_tensor(ds.labels[:n], dtype=torch.long)
    w = torch.ones(2)
    model = build_classifier("efficientnet_lite0", 2).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    nf = model.head[-1].in_features

    class Features(torch.nn.Module):  # the frozen backbone's pooled tap features (the head's input)
        def forward(self, x):
            return model.features(x)

    def head():
        torch.manual_seed(0)
        return torch.nn.Linear(nf, 2)

    def run_cached() -> float:
        t = time.perf_counter()
        model.to(memory_format=torch.channels_last)
        cpu = torch.device("cpu")
        feats = encode(Features(), px[:n], (0.5,) * 3, (0.5,) * 3, eval_batch_size(cpu), cpu)
        h = head()
        opt = torch.optim.AdamW(h.parameters(), 1e-3)
        gen = torch.Generator().manual_seed(0)
        for _ in range(args.epochs_frozen):
            _run_epoch(h, feats.clone(), y, opt, None, w, args.batch, gen, torch.device("cpu"))
        return time.perf_counter() - t

    def run_per_epoch() -> float:
        t = time.perf_counter()
        model.to(memory_format=torch.contiguous_format)
        h = head()
        opt = torch.optim.AdamW(h.parameters(), 1e-3)
        x_all = to_input(px[:n], (0.5,) * 3, (0.5,) * 3).contiguous()
        for _ in range(args.epochs_frozen):
            perm = torch.randperm(n)
            for i in range(0, n, args.batch):
                idx = perm[i:i + args.batch]
                with torch.no_grad():
                    f = model.features(x_all[idx])
                loss = F.cross_entropy(h(f), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                loss.item()
        return time.perf_counter() - t

    a, c = [], []
    for _ in range(args.frozen_repeats):
        a.append(run_cached())
        c.append(run_per_epoch())
    return {"cached_s": statistics.median(a), "per_epoch_s": statistics.median(c), "all_cached": a, "all_per_epoch": c,
            "images": n}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=160, help="resolution (default 160)")
    ap.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    ap.add_argument("--steps", type=int, default=3, help="training steps per measurement (default 3)")
    ap.add_argument("--repeats", type=int, default=3, help="alternating repeats per side (default 3)")
    ap.add_argument("--images", type=int, default=320, help="elpv images to load (default 320)")
    ap.add_argument("--frozen-images", type=int, default=256, help="images in the frozen-phase comparison")
    ap.add_argument("--epochs-frozen", type=int, default=5, help="frozen-phase epochs (default 5)")
    ap.add_argument("--frozen-repeats", type=int, default=2, help="alternating repeats of the frozen comparison")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes for a smoke run")
    args = ap.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.steps, args.repeats, args.images = 64, 8, 2, 2, 64
        args.frozen_images, args.epochs_frozen, args.frozen_repeats = 48, 3, 1
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    ds, px = _setup(args)
    print(f"efficientnet_lite0, {args.size}px, batch {args.batch}, {torch.get_num_threads()} threads, "
          f"cuda={torch.cuda.is_available()}")
    r = bench_training(args, ds, px)
    print(f"training throughput: ours {r['ours']:.2f} img/s, plain timm loop {r['plain']:.2f} img/s, "
          f"ratio {r['ours'] / r['plain']:.2f}x  (medians of {args.repeats}; ours "
          f"{np.round(r['all_ours'], 2).tolist()}, plain {np.round(r['all_plain'], 2).tolist()})")
    f = bench_frozen(args, ds, px)
    print(f"frozen phase ({f['images']} images, {args.epochs_frozen} epochs): cached features {f['cached_s']:.1f} s, "
          f"backbone every epoch {f['per_epoch_s']:.1f} s, speed-up {f['per_epoch_s'] / f['cached_s']:.1f}x  "
          f"(medians of {args.frozen_repeats})")


if __name__ == "__main__":
    main()
