"""A client for StreamLoader's batch protocol over ZeroMQ (docs/WIRE.md), with pyzmq and numpy only.

    from streamloader_client import Client
    with Client("tcp://loader:5555", window=8) as client:
        for batch in client:               # {"input_ids": ndarray[8, 128], ..., "meta": {...}}
            train_step(batch)              # the batch is acknowledged when the loop asks for the next one

The socket lives on a background thread that heartbeats every fifth of the peer timeout, so a long training step
never makes this consumer look dead, and reports a loader that falls silent for the timeout.
"""
import json
import os
import queue
import socket
import struct
import threading
import time

import numpy as np
import zmq

PROTOCOL = 2

# The package's major version is the wire protocol it speaks (docs/WIRE.md): a client 2.x talks to any loader of protocol 2.
__version__ = "2.2.0"

DTYPES = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16, "I32": np.int32,
    "U32": np.uint32, "I64": np.int64, "U64": np.uint64, "F16": np.float16, "F32": np.float32, "F64": np.float64,
    "BF16": np.uint16,  # numpy has no bfloat16: the raw 16 bits
}


_DRAINED = object()  # queued when the loader says DRAINED to a client that asked to stop then


class LoaderError(RuntimeError):
    """The loader failed, refused this consumer, dropped it, or fell silent."""


def decode_frame(frame):
    """One frame (safetensors layout) -> (metadata dict, {name: numpy array}); the arrays copy out of the frame."""
    (n,) = struct.unpack_from("<Q", frame, 0)
    header = json.loads(bytes(frame[8:8 + n]))
    meta = header.pop("__metadata__", {})
    data = memoryview(frame)[8 + n:]
    tensors = {}
    for name, t in header.items():
        start, end = t["data_offsets"]
        dtype = np.dtype(DTYPES[t["dtype"]]).newbyteorder("<")
        tensors[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(t["shape"]).copy()
    return meta, tensors


def _read_key(key, secret):
    """A Z85 key (bytes) from a ZeroMQ certificate file or a 40-character Z85 string: the secret key, or the public one."""
    if isinstance(key, bytes):
        key = key.decode("ascii")
    if len(key) == 40 and not os.path.exists(key):
        return key.encode("ascii")
    wanted = "secret-key" if secret else "public-key"
    with open(key, encoding="ascii") as f:
        for number, line in enumerate(f, 1):
            name, _, value = line.strip().partition("=")
            if name.strip() == wanted:
                value = value.strip().strip('"')
                if len(value) != 40:
                    raise ValueError(f"{key}, line {number}: {wanted} must be 40 Z85 characters")
                return value.encode("ascii")
    raise ValueError(f"{key}: no {wanted} line; expected a ZeroMQ certificate as `streamloader keys` writes it"
                     + (" (the NAME.key_secret file)" if secret else ""))


def _curve_settings(server_key, client_key):
    """(server public, client public, client secret) as Z85 bytes, or None without CURVE."""
    if server_key is None:
        if client_key is not None:
            raise ValueError("client_key needs server_key: the loader's public key")
        return None
    if not zmq.has("curve"):
        raise LoaderError("this libzmq was built without CURVE; it cannot talk to a loader with --curve-server-key")
    server_public = _read_key(server_key, secret=False)
    if client_key is None:
        client_public, client_secret = zmq.curve_keypair()  # a fresh pair: encrypted, not an authorized consumer
    else:
        client_secret = _read_key(client_key, secret=True)
        client_public = zmq.curve_public(client_secret)
    return server_public, client_public, client_secret


_PROOF_TEXT = b"StreamLoader consumer key, protocol 2"


def _prove(client_secret_z85, server_public_z85):
    """The key proof of docs/WIRE.md: a 24-byte nonce, then crypto_box(text, nonce, client secret -> loader public)."""
    try:
        from nacl.public import Box, PrivateKey, PublicKey
    except ImportError as error:
        raise LoaderError("proving a client key to the loader needs PyNaCl (apt install python3-nacl, or pip install pynacl)") from error
    from zmq.utils import z85
    box = Box(PrivateKey(z85.decode(client_secret_z85)), PublicKey(z85.decode(server_public_z85)))
    sealed = box.encrypt(_PROOF_TEXT, os.urandom(24))
    return bytes(sealed)  # nonce (24) + tag (16) + ciphertext


class Client:
    """One consumer of a StreamLoader loader (``--role loader --out tcp://*:PORT``): iterate it for batches."""

    def __init__(self, endpoint, window=8, peer_timeout=20.0, name=None, context=None, stop_when_drained=False,
                 server_key=None, client_key=None, connect_timeout=120.0):
        """server_key: the loader's CURVE public key (a NAME.key file from ``streamloader keys``, or its 40-character Z85
        text) for a loader started with --curve-server-key: the connection is encrypted and the loader authenticated.
        client_key: this consumer's key pair (a NAME.key_secret file) for a loader that takes only the consumers in its
        --curve-keys folder: the client proves it holds the key (that proof needs PyNaCl: apt install python3-nacl).

        stop_when_drained: end the iteration as soon as the loader says this consumer will get no more batches
        (DRAINED: the stream's last batch has gone out and the rest are held by other consumers), instead of waiting
        for the end frame. Data-parallel ranks that step in lockstep need it: one rank waiting for a batch another
        rank holds, while that rank waits for it in a collective, would wait forever.

        connect_timeout: seconds to wait for the loader's first answer. A launcher (srun, torchrun, a Kubernetes pod)
        starts the loader and the trainer together, and a loader still starting (loading its tokenizer, opening its
        source) is not a dead one; once it has answered, peer_timeout of silence means it is gone."""
        if window < 1:
            raise ValueError("window must be at least 1")
        self.endpoint = endpoint
        self.window = window
        self.peer_timeout = float(peer_timeout)
        self.connect_timeout = max(float(connect_timeout), self.peer_timeout)
        self.heartbeat = max(0.05, self.peer_timeout / 5)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.received = 0
        self.end_totals = None
        self.stop_when_drained = bool(stop_when_drained)
        self.drained = False  # the loader said DRAINED and this iteration stopped for it
        self._curve = _curve_settings(server_key, client_key)
        self._curve_proves = client_key is not None
        self._context = context or zmq.Context.instance()
        self._inbound = queue.Queue(maxsize=window + 2)
        self._outbound = queue.Queue()
        self._stop = threading.Event()
        self._last_taken = None
        # The main thread wakes the socket thread through an inproc pair when it queues an ACK or a goodbye.
        self._wake_address = f"inproc://streamloader-client-{id(self)}"
        self._wake = self._context.socket(zmq.PAIR)
        self._wake.bind(self._wake_address)
        self._thread = threading.Thread(target=self._run, name="streamloader-client", daemon=True)
        self._thread.start()

    # The socket's own thread: the only one that touches it.
    def _run(self):
        try:
            self._serve()
        except Exception as error:  # the iterator must hear of it, not wait forever
            self._put(LoaderError(f"{self.endpoint}: the client's socket thread failed: {error!r}"))

    def _serve(self):
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 1000)
        if self._curve is not None:
            server_public, client_public, client_secret = self._curve
            sock.curve_serverkey = server_public
            sock.curve_publickey = client_public
            sock.curve_secretkey = client_secret
        sock.connect(self.endpoint)
        hello = [b"HELLO", str(PROTOCOL).encode(), str(self.window).encode(), self.name.encode()]
        # features: only a consumer that asks is ever sent DRAINED
        features = b"drained" if self.stop_when_drained else b""
        if self._curve is not None and self._curve_proves:
            hello += [features, client_public, _prove(client_secret, server_public)]
        elif features:
            hello.append(features)
        sock.send_multipart(hello)
        started = last_heard = last_sent = time.monotonic()
        welcomed = ended = False
        woken = self._context.socket(zmq.PAIR)
        woken.connect(self._wake_address)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(woken, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                events = dict(poller.poll(int(self.heartbeat * 500)))
                now = time.monotonic()
                if woken in events:
                    while True:
                        try:
                            woken.recv(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                if sock in events:
                    while True:
                        try:
                            parts = sock.recv_multipart(zmq.NOBLOCK, copy=True)
                        except zmq.Again:
                            break
                        last_heard = now
                        first = parts[0]
                        if len(first) < 8:
                            command = first.decode("ascii", "replace")
                            if command == "WELCOME":
                                welcomed = True
                            elif command == "GONE":
                                reason = parts[1].decode() if len(parts) > 1 else "no reason given"
                                self._put(LoaderError(f"{self.endpoint}: the loader dropped this consumer: {reason}"))
                                ended = True
                            elif command == "DRAINED" and self.stop_when_drained:
                                self._put(_DRAINED)
                            elif command != "PING":
                                self._put(LoaderError(f"{self.endpoint}: unknown command {command!r} from the loader"))
                                ended = True
                            continue
                        meta, tensors = decode_frame(first)
                        if meta.get("stream") == "error":
                            self._put(LoaderError(f"{self.endpoint}: the loader failed: {meta.get('message', '?')}"))
                            ended = True
                        elif meta.get("stream") == "end":
                            if int(meta.get("batches", -1)) != self.received:
                                self._put(LoaderError(f"{self.endpoint}: the loader reports {meta.get('batches')} batches sent here, {self.received} arrived"))
                            else:
                                self.end_totals = meta
                                self._put(StopIteration())
                            ended = True
                        else:
                            self.received += 1
                            tensors["meta"] = meta
                            self._put(tensors)
                while True:
                    try:
                        item = self._outbound.get_nowait()
                    except queue.Empty:
                        break
                    sock.send_multipart(item)
                    last_sent = now
                if now - last_sent >= self.heartbeat:
                    sock.send(b"PING")
                    last_sent = now
                if not ended and now - last_heard > (self.peer_timeout if welcomed else self.connect_timeout):
                    silent = now - (last_heard if welcomed else started)
                    self._put(LoaderError(f"{self.endpoint}: nothing from the loader for {silent:.1f} s" if welcomed
                                          else f"{self.endpoint}: no loader answered within {silent:.1f} s"))
                    ended = True
        finally:
            # What the main thread queued last (the final ACK, the goodbye) still goes out.
            while True:
                try:
                    sock.send_multipart(self._outbound.get_nowait())
                except queue.Empty:
                    break
            woken.close()
            sock.close()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._inbound.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _send(self, parts):
        self._outbound.put(parts)
        try:
            self._wake.send(b"", zmq.NOBLOCK)
        except zmq.Again:
            pass  # the thread is behind on wake-ups; it polls the queue at least every heartbeat anyway

    def _ack(self, meta):
        self._send([b"ACK", meta["sequence"].encode()])

    def __iter__(self):
        return self

    def __next__(self):
        if self._last_taken is not None:
            # Asking for the next batch: done with the last one.
            self._ack(self._last_taken)
            self._last_taken = None
        while True:
            try:
                item = self._inbound.get(timeout=0.5)
                break
            except queue.Empty:
                if not self._thread.is_alive():
                    raise LoaderError(f"{self.endpoint}: the client was closed")
        if item is _DRAINED:
            self.drained = True
            raise StopIteration
        if isinstance(item, BaseException):
            self._failure = str(item)
            raise item
        self._last_taken = item["meta"]
        return item

    def close(self, ack_last=True, failure=None):
        """Leave: acknowledges the batch taken last (unless told not to), then says goodbye (its other batches go to others).

        Leaving because of a failure (``failure``, or the loader error this client raised) says so in the goodbye
        (``BYE failed: ...``): a loader whose consumers all left that way before its stream ended fails instead of
        ending as if they had what they wanted (docs/WIRE.md).
        """
        if self._stop.is_set():
            return
        if ack_last and self._last_taken is not None:
            self._ack(self._last_taken)
        self._last_taken = None
        failure = failure or getattr(self, "_failure", None)
        self._send([b"BYE", ("failed: " + failure)[:200].encode()] if failure else [b"BYE"])
        time.sleep(min(0.2, self.heartbeat))
        self._stop.set()
        self._thread.join(timeout=5)
        self._wake.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(failure=None if exc is None or isinstance(exc, (StopIteration, GeneratorExit, KeyboardInterrupt)) else f"{exc_type.__name__}: {exc}")
