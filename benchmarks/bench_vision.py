"""Vision training speed against plain PyTorch/timm baselines, measured in the same run.

1. Fine-tuning throughput (images/s, whole network trained, one epoch per measurement): workbench's
   loop (uint8 pixels normalized in one batched op, batched augmentation on tensors, no per-step
   host sync) against a plain loop (per-sample torchvision transforms from PIL images through a
   DataLoader with ``--workers`` worker processes, ``loss.item()`` every step). Same network
   (efficientnet_lite0 classifier), batch size, resolution, memory format (``--memory-format``,
   applied to both models and inputs), torch threads, augmentations (flips, 8 degree rotation,
   brightness/contrast 0.15); both start from the same decoded uint8 pixels and normalize inside
   the timed region.
2. Frozen phase: workbench caches the frozen backbone's features once and trains the head on them,
   against the same phase where every epoch runs each image through the frozen backbone again.
   Same batch size for every backbone pass and head step, same memory format, both normalize
   inside the timed region.

Each side gets one untimed warm-up (the DataLoader's persistent workers start there), then the sides
alternate (A B A B ...) for ``--repeats`` rounds and medians are quoted; every round's line shows the
load average. On a machine shared with other jobs, two OpenMP threads per process oversubscribe a
2-core box: there ``--threads 1`` ran both sides 3-4x faster and far more steadily than the default 2.
Real ELPV images. Run from the repository root::

    python benchmarks/bench_vision.py                 # defaults: 160px, batch 32, 5 rounds
    python benchmarks/bench_vision.py --threads 1     # steadier on a loaded machine
    python benchmarks/bench_vision.py --quick         # a smoke run (64px, 1 thread), under a minute
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F


def _load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def _paired(ratios: list[float]) -> str:
    return (f"per-round ratios: median {statistics.median(ratios):.2f}x, range {min(ratios):.2f}-{max(ratios):.2f}x")


def _setup(args):
    from workbench.data import load_image_dataset, load_pixels

    ds = load_image_dataset("elpv", max_images=args.images, seed=0)
    px, _ = load_pixels(ds.paths, args.size)
    return ds, px


def bench_training(args, ds, px, fmt: torch.memory_format) -> dict:
    from PIL import Image
    from torchvision import transforms as T

    from workbench.vision._nets import build_classifier
    from workbench.vision._tensors import augment, seed_everything, to_input
    from workbench.vision._train import _run_epoch

    n = args.batch * args.steps
    y = torch.as_tensor(ds.labels[:n], dtype=torch.long)
    w = torch.ones(2)
    norm = ((0.5,) * 3, (0.5,) * 3)

    # ours: uint8 pixels -> one batched normalization -> batched augmentation per step
    ours = build_classifier("efficientnet_lite0", 2).to(memory_format=fmt)
    opt_o = torch.optim.AdamW(ours.parameters(), 1e-4)
    gen = seed_everything(0)
    u8 = px[:n]

    def run_ours() -> float:
        t = time.perf_counter()
        xs = to_input(u8, *norm).contiguous(memory_format=fmt)
        _run_epoch(ours, xs, y, opt_o, None, w, args.batch, gen, torch.device("cpu"),
                   lambda x: augment(x, gen).contiguous(memory_format=fmt))
        return n / (time.perf_counter() - t)

    # plain: per-sample transforms from PIL images in DataLoader workers, loss.item() per step
    plain = build_classifier("efficientnet_lite0", 2).to(memory_format=fmt)
    opt_p = torch.optim.AdamW(plain.parameters(), 1e-4)
    tf = T.Compose([T.RandomHorizontalFlip(), T.RandomVerticalFlip(), T.RandomRotation(8),
                    T.ColorJitter(0.15, 0.15), T.ToTensor(), T.Normalize(*norm)])
    images = [Image.fromarray(a) for a in u8]

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return tf(images[i]), int(y[i])

    loader = torch.utils.data.DataLoader(DS(), batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                         persistent_workers=args.workers > 0)

    def run_plain() -> float:
        plain.train()
        t = time.perf_counter()
        losses = []
        for xb, yb in loader:
            loss = F.cross_entropy(plain(xb.contiguous(memory_format=fmt)), yb)
            opt_p.zero_grad()
            loss.backward()
            opt_p.step()
            losses.append(loss.item())
        return n / (time.perf_counter() - t)

    run_ours(), run_plain()  # warm-up (and the plain side's worker start)
    a, b = [], []
    for i in range(args.repeats):
        a.append(run_ours())
        b.append(run_plain())
        print(f"  round {i + 1}: ours {a[-1]:.2f} img/s, plain {b[-1]:.2f} img/s  ({_load()})", flush=True)
    return {"ours": statistics.median(a), "plain": statistics.median(b), "paired": [x / y for x, y in zip(a, b)]}


def bench_frozen(args, ds, px, fmt: torch.memory_format) -> dict:
    from workbench.vision._nets import build_classifier
    from workbench.vision._tensors import encode, to_input
    from workbench.vision._train import _run_epoch

    n = min(len(px), args.frozen_images)
    y = torch.as_tensor(ds.labels[:n], dtype=torch.long)
    w = torch.ones(2)
    norm = ((0.5,) * 3, (0.5,) * 3)
    model = build_classifier("efficientnet_lite0", 2).eval().to(memory_format=fmt)
    for p in model.parameters():
        p.requires_grad_(False)
    nf = model.head[-1].in_features
    cpu = torch.device("cpu")

    class Features(torch.nn.Module):  # the frozen backbone's pooled tap features (the head's input)
        def forward(self, x):
            return model.features(x.contiguous(memory_format=fmt))

    def head():
        torch.manual_seed(0)
        return torch.nn.Linear(nf, 2)

    def run_cached() -> float:
        t = time.perf_counter()
        feats = encode(Features(), px[:n], *norm, args.batch, cpu)  # normalizes batch by batch
        h = head()
        opt = torch.optim.AdamW(h.parameters(), 1e-3)
        gen = torch.Generator().manual_seed(0)
        for _ in range(args.epochs_frozen):
            _run_epoch(h, feats.clone(), y, opt, None, w, args.batch, gen, cpu)
        return time.perf_counter() - t

    def run_per_epoch() -> float:
        t = time.perf_counter()
        h = head()
        opt = torch.optim.AdamW(h.parameters(), 1e-3)
        x_all = to_input(px[:n], *norm).contiguous(memory_format=fmt)
        gen = torch.Generator().manual_seed(0)
        for _ in range(args.epochs_frozen):
            h.train()
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, args.batch):
                idx = perm[i:i + args.batch]
                with torch.no_grad():
                    f = model.features(x_all[idx])
                loss = F.cross_entropy(h(f), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return time.perf_counter() - t

    a, c = [], []
    for i in range(args.frozen_repeats):
        a.append(run_cached())
        c.append(run_per_epoch())
        print(f"  round {i + 1}: cached {a[-1]:.2f} s, backbone every epoch {c[-1]:.2f} s  ({_load()})", flush=True)
    return {"cached_s": statistics.median(a), "per_epoch_s": statistics.median(c), "images": n,
            "paired": [y / x for x, y in zip(a, c)]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=160, help="resolution (default 160)")
    ap.add_argument("--batch", type=int, default=32, help="batch size, both sides, both comparisons (default 32)")
    ap.add_argument("--steps", type=int, default=3, help="training steps per measurement (default 3)")
    ap.add_argument("--repeats", type=int, default=5, help="alternating rounds of the training comparison (default 5)")
    ap.add_argument("--images", type=int, default=320, help="elpv images to load (default 320)")
    ap.add_argument("--frozen-images", type=int, default=64, help="images in the frozen-phase comparison (default 64)")
    ap.add_argument("--epochs-frozen", type=int, default=5, help="frozen-phase epochs (default 5)")
    ap.add_argument("--frozen-repeats", type=int, default=5, help="alternating rounds of the frozen comparison")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads, both sides (default 2, torch's own choice on 2 cores; --quick: 1)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                    help="DataLoader workers of the plain loop (default: 2, or the core count if smaller)")
    ap.add_argument("--memory-format", choices=["channels_last", "nchw"], default="channels_last",
                    help="memory format of both sides' models and inputs (default channels_last)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes for a smoke run")
    args = ap.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.steps, args.repeats, args.images = 64, 8, 2, 3, 32
        args.frozen_images, args.epochs_frozen, args.frozen_repeats = 16, 3, 3
        args.threads = args.threads or 1
    args.threads = args.threads or 2
    fmt = torch.channels_last if args.memory_format == "channels_last" else torch.contiguous_format
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    ds, px = _setup(args)
    print(f"efficientnet_lite0, {args.size}px, batch {args.batch}, {args.memory_format} on both sides, "
          f"{torch.get_num_threads()} torch threads, plain DataLoader num_workers={args.workers}, "
          f"{os.cpu_count()} CPUs, cuda={torch.cuda.is_available()} (not used), {_load()}")
    print(f"1. training throughput, one epoch of {args.batch * args.steps} images per measurement "
          "(normalization inside the timer on both sides):")
    r = bench_training(args, ds, px, fmt)
    print(f"training throughput: ours {r['ours']:.2f} img/s, plain timm loop {r['plain']:.2f} img/s, "
          f"ratio {r['ours'] / r['plain']:.2f}x  (medians of {args.repeats} alternating rounds; {_paired(r['paired'])})")
    print(f"2. frozen phase, {min(len(px), args.frozen_images)} images, {args.epochs_frozen} epochs, batch "
          f"{args.batch} for every backbone pass and head step:")
    f = bench_frozen(args, ds, px, fmt)
    print(f"frozen phase ({f['images']} images, {args.epochs_frozen} epochs): cached features {f['cached_s']:.2f} s, "
          f"backbone every epoch {f['per_epoch_s']:.2f} s, speed-up {f['per_epoch_s'] / f['cached_s']:.2f}x  "
          f"(medians of {args.frozen_repeats} alternating rounds; {_paired(f['paired'])}); the backbone runs "
          f"{args.epochs_frozen} times as often on the slow side, so about {args.epochs_frozen}x is the most to expect")


if __name__ == "__main__":
    main()
