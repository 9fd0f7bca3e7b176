import torch

from ganforge.core.batches import BatchSampler


def sampler(device: str, host: bool) -> BatchSampler:
    images = torch.arange(10 * 3 * 4 * 4, dtype=torch.int64).remainder(256).to(torch.uint8).view(10, 3, 4, 4)
    tensors = {"x": images, "labels": torch.arange(10)}
    return BatchSampler(tensors, 4, torch.Generator().manual_seed(1), torch.device(device), host=host)


def test_host_batches_leave_the_data_in_place_and_move_each_batch():
    """`host` (a streaming, memory-mapped set): the data stays in host memory and each batch
    moves on its own (the meta device stands in for a GPU here; CUDA adds pinned memory)."""
    held = sampler("meta", host=True)
    assert held.tensors["x"].device.type == "cpu"
    batch = held.next()
    assert batch["x"].device.type == "meta" and batch["x"].dtype == torch.float32 and len(batch) == 4
    moved = sampler("meta", host=False)
    assert moved.tensors["x"].device.type == "meta"
    moved.next()
    assert torch.equal(held.order, moved.order)  # the same draw either way


def test_on_the_cpu_host_changes_nothing():
    a, b = sampler("cpu", host=True), sampler("cpu", host=False)
    assert not a.host
    for _ in range(3):
        first, second = a.next(), b.next()
        assert torch.equal(first["x"], second["x"]) and torch.equal(first["labels"], second["labels"])
