"""Feeding a PyTorch model from StreamLoader frames, and measuring how long the GPU waited for them.

- pipe_batches: frames from a pipe (stdin), read into reused pinned buffers on a reader thread and copied to the device.
- resident_batches: every frame of a file, copied to the device before timing starts (the ceiling: no loader at all).
- Gaps: CUDA events around each step measure, in GPU time, how long the GPU sat idle between one step's last kernel
  and the next batch's arrival; the data wait is the part of that gap during which the host was waiting for a batch.
"""
import os
import queue
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from read_frames import device_batches, frames, to_torch  # noqa: E402

import torch  # noqa: E402


def _is_batch(meta):
    # Inference may send a few comparison batches (the other layout, for the summary's timing): not input rows.
    return meta.get("comparison") != "true"


def _tokens(tensors, meta):
    if "tokens" in meta:
        return int(meta["tokens"])
    return int(tensors["attention_mask"].sum())


def pipe_batches(stream, device, prefetch=8):
    """Yields ({name: tensor on device}, rows, tokens) per frame of the stream. A reader thread reads each frame into a
    reused pinned buffer and starts its copy to the device (read_frames.device_batches), `prefetch` batches ahead."""
    q = queue.Queue(maxsize=prefetch)

    def reader():
        try:
            for meta, tensors in device_batches(stream, device, ring=prefetch + 4):
                if _is_batch(meta):
                    q.put((tensors, int(tensors["input_ids"].shape[0]), _tokens(tensors, meta)))
            q.put(None)
        except BaseException as e:  # surfaced on the consuming thread
            q.put(e)

    threading.Thread(target=reader, daemon=True).start()
    while True:
        item = q.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def resident_batches(path, device):
    """Every batch of a frame file, already on the device: [(tensors, rows, tokens)]."""
    out = []
    with open(path, "rb") as f:
        for header, meta, data in frames(f):
            if _is_batch(meta):
                tensors = to_torch(header, data)
                out.append(({k: v.to(device) for k, v in tensors.items()}, int(tensors["input_ids"].shape[0]), _tokens(tensors, meta)))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out


class Gaps:
    """Per step: the host's wait for the batch, and (on CUDA) the GPU's idle gap before it, from events."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"
        self.waits = []
        self.events = []  # (previous step's end, this batch ready)
        self.last_end = None

    def batch_ready(self, waited):
        self.waits.append(waited)
        if self.cuda:
            ready = torch.cuda.Event(enable_timing=True)
            ready.record()
            self.events.append((self.last_end, ready))

    def step_end(self):
        if self.cuda:
            self.last_end = torch.cuda.Event(enable_timing=True)
            self.last_end.record()

    def report(self, elapsed):
        """After torch.cuda.synchronize(): the fractions of the elapsed time."""
        gaps = [end.elapsed_time(ready) / 1000.0 if end is not None else 0.0 for end, ready in self.events] if self.cuda else [0.0] * len(self.waits)
        if self.cuda and self.events:
            ends = [end for end, _ in self.events[1:]] + [self.last_end]
            in_steps = sum(ready.elapsed_time(end) for (_, ready), end in zip(self.events, ends)) / 1000.0
        else:
            in_steps = 0.0
        waited = sum(self.waits)
        data_wait = sum(min(g, w) for g, w in zip(gaps, self.waits))
        return {
            "host_wait_fraction": round(waited / elapsed, 5),
            "gpu_idle_fraction": round(sum(gaps) / elapsed, 5),
            "data_wait_fraction": round(data_wait / elapsed, 5),
            # GPU time from each batch's arrival to its step's last kernel: compute plus any stall inside the step
            "gpu_step_seconds": round(in_steps, 3),
            "steps_gpu_waited_for_data": sum(1 for g, w in zip(gaps, self.waits) if min(g, w) > 1e-4),
        }


def timed_next(batches):
    t0 = time.perf_counter()
    item = next(batches)
    return item, time.perf_counter() - t0
