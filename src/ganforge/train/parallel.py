"""Independent runs side by side: the seeds of a variant, each trained in a process of its
own (forked from this one, so nothing is imported twice), a few at a time. Each run fixes its
own CPU threads (`train.threads`), so it computes the same bits whichever process, and beside
whichever others, it trains in; the processes die with their parent."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

from ganforge.core.errors import GanforgeError
from ganforge.train.distributed import die_with_launcher

T = TypeVar("T")
R = TypeVar("R")


class WorkerDiedError(GanforgeError):
    """A process running one of the items ended without an answer (killed, or out of memory)."""


def _child(fn: Callable[[Any], Any], item: Any, answer: Connection) -> None:
    die_with_launcher()
    try:
        result: tuple[bool, Any] = (True, fn(item))
    except BaseException as exc:  # the parent raises it
        result = (False, exc)
    try:
        answer.send(result)
    except Exception as exc:  # an answer that does not pickle
        answer.send((False, WorkerDiedError(f"could not send back the result of {item!r}: {exc}")))
    finally:
        answer.close()


def preload_training() -> None:
    """Import here, once, what a run imports lazily when it builds its first optimizer
    (torch's compiler stack, about 2 s on 2 cores), so that processes forked from this one
    do not each import it again."""
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def run_each(fn: Callable[[T], R], items: Sequence[T], processes: int) -> list[R]:
    """fn(item) for every item, in the items' order, `processes` at a time, each call in a
    fresh process forked from this one (the result, or the error, comes back pickled). The
    first error stops the calls still running and is raised here. One process, or one item:
    plain calls in this process."""
    if processes <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    context = multiprocessing.get_context("fork")
    results: list[Any] = [None] * len(items)
    pending = list(enumerate(items))
    running: dict[Connection, tuple[int, Any]] = {}
    try:
        while pending or running:
            while pending and len(running) < processes:
                index, item = pending.pop(0)
                reader, writer = context.Pipe(duplex=False)
                process = context.Process(target=_child, args=(fn, item, writer), daemon=True)
                process.start()
                writer.close()
                running[reader] = (index, process)
            for reader in wait(list(running)):
                index, process = running.pop(reader)  # type: ignore[index]
                try:
                    ok, value = reader.recv()  # type: ignore[union-attr]
                except EOFError:
                    process.join()
                    ok, value = (
                        False,
                        WorkerDiedError(f"the process of {items[index]!r} died (exit {process.exitcode})"),
                    )
                process.join()
                if not ok:
                    raise value
                results[index] = value
    finally:
        for _, process in running.values():
            process.kill()
            process.join()
    return results
