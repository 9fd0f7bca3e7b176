"""Training progress: a progress bar on an interactive terminal, plain periodic lines
otherwise (logs, CI, DVC)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

_SHOWN = ("d_loss", "g_loss", "d_real", "d_fake")


def _format(row: dict[str, float]) -> str:
    return "  ".join(f"{k} {row[k]:.3f}" for k in _SHOWN if k in row)


class Progress:
    def __init__(
        self, total: int, label: str, stream: TextIO | None = None, interactive: bool | None = None
    ) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.bar: Any = None
        self.shown = 0

    def start(self, step: int) -> None:
        self.shown = step
        if self.interactive:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                initial=step,
                desc=self.label,
                file=self.stream,
                dynamic_ncols=True,
                leave=True,
            )
        elif step:
            print(f"{self.label}: resuming at step {step}/{self.total}", file=self.stream, flush=True)

    def log(self, step: int, row: dict[str, float], images_per_s: float) -> None:
        if self.bar is not None:
            self.bar.update(step - self.shown)
            self.bar.set_postfix_str(f"{_format(row)}  {images_per_s:.0f} img/s", refresh=False)
        else:
            print(
                f"{self.label}: step {step}/{self.total}  {_format(row)}  {images_per_s:.0f} img/s",
                file=self.stream,
                flush=True,
            )
        self.shown = step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
