"""What every layer shares, importing nothing else of ganforge: errors, atomic file io,
typed configs from plain dicts, image tensors' conventions, batches, device and precision,
sharding a batch over processes, and a run's random sources. This file imports nothing."""
