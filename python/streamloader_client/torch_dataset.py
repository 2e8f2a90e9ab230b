"""A torch IterableDataset over a StreamLoader loader: one consumer per rank (or per process), batches as tensors.

    dataset = StreamLoaderDataset("tcp://loader:5555")
    for batch in torch.utils.data.DataLoader(dataset, batch_size=None):   # StreamLoader's batches are already batches
        loss = model(batch["input_ids"], batch["attention_mask"], batch["labels"])

Heartbeats run on the client's background thread; a batch is acknowledged when the loop takes the next one. Use it
with batch_size=None and num_workers=0: the loader already batches, and one consumer per process is what it expects.
"""
import torch

from . import Client


class StreamLoaderDataset(torch.utils.data.IterableDataset):
    def __init__(self, endpoint, window=8, peer_timeout=20.0, name=None, stop_when_drained=False, connect_timeout=120.0):
        """stop_when_drained: end the iteration when the loader says the rest of the stream is with other consumers
        (DRAINED), as DDP ranks that step together must; connect_timeout: how long to wait for a loader still starting.
        See Client."""
        super().__init__()
        self.endpoint = endpoint
        self.window = window
        self.peer_timeout = peer_timeout
        self.name = name
        self.stop_when_drained = stop_when_drained
        self.connect_timeout = connect_timeout
        self.client = None

    def __iter__(self):
        self.client = Client(self.endpoint, window=self.window, peer_timeout=self.peer_timeout, name=self.name,
                             stop_when_drained=self.stop_when_drained, connect_timeout=self.connect_timeout)
        try:
            for batch in self.client:
                meta = batch.pop("meta")
                tensors = {k: torch.from_numpy(v) for k, v in batch.items()}
                tensors["meta"] = meta
                yield tensors
        finally:
            self.client.close()
