"""Domain-classifier training speed: a step of `train_classifier`'s recipe (augmentation,
forward, backward, AdamW) in channels_last memory, as the evaluator stage trains it, against
the same step in the default contiguous layout, in the same run, at MNIST's and emoji64's
shapes. Each layout is timed `--repeats` times, interleaved; the medians are compared and the
last line printed is JSON with `speedup` = contiguous time / channels_last time per shape.

    python benchmarks/classifier_training.py
    python benchmarks/classifier_training.py --steps 40 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from ganforge.metrics.classifier import ClassifierConfig, DomainCNN, augment, to_input

SHAPES = {"mnist": (1, 28, 10), "emoji64": (3, 32, 9)}


def step_seconds(channels: int, size: int, classes: int, channels_last: bool, steps: int) -> float:
    cfg = ClassifierConfig()
    torch.manual_seed(0)
    model = DomainCNN(channels, classes, cfg.width, cfg.feature_dim)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    images = torch.randint(0, 256, (cfg.batch_size, channels, size, size), dtype=torch.uint8)
    labels = torch.randint(0, classes, (cfg.batch_size,))
    gen = torch.Generator().manual_seed(1)
    warmup = 3
    for i in range(steps + warmup):
        if i == warmup:
            start = time.perf_counter()
        x = augment(to_input(images), cfg, gen).contiguous(memory_format=layout)
        loss = F.cross_entropy(model(x), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = {"threads": torch.get_num_threads(), "batch": ClassifierConfig().batch_size}
    for name, (channels, size, classes) in SHAPES.items():
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for layout in (False, True):
                times[layout].append(step_seconds(channels, size, classes, layout, args.steps))
        contiguous, last = statistics.median(times[False]), statistics.median(times[True])
        print(f"{name}: contiguous {contiguous * 1e3:.1f} ms/step, channels_last {last * 1e3:.1f} ms/step")
        result[name] = {
            "contiguous_ms": contiguous * 1e3,
            "channels_last_ms": last * 1e3,
            "speedup": contiguous / last,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
