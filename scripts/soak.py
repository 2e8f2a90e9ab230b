#!/usr/bin/env python3
"""A soak with injected faults: one loader and two devices over ZeroMQ, for a long time, on a generated corpus.

The loader streams a generated JSON Lines corpus (1 GB by default) over HTTP from a local server that cuts the
connection every 100 MB it serves (the loader resumes with Range requests); two devices train a micro MLM model on its
batches. On a schedule: device A is killed (SIGKILL) and restarted; device B is paused (SIGSTOP) past the peer
timeout, so the loader drops it and sends its batches to A, then continued (it hears GONE, exits and is restarted);
a garbage peer connects, sends junk, a HELLO asking for a billion batches, an oversized message and a flood of
commands, and leaves. Every 10 s it samples the RSS and open descriptors of every process.

At the end the loader is stopped (SIGTERM) and the soak checks:
  - every batch the loader built is accounted for (sent = acknowledged + returned + undeliverable + in flight at the
    stop) and was acknowledged by at most one consumer (the per-consumer sets are disjoint), none undeliverable;
  - each device that wrote a report received every batch the loader records it acknowledged;
  - the loader's RSS and descriptors are flat after warm-up (a fifth of the run; the last 3 minutes' median within 10% of the median of
    the 3 minutes after warm-up);
  - every loss a device logged is finite.
It prints one JSON object of figures (and writes it to WORK/soak.json); exit 0 when every check holds.

  /usr/bin/python3 scripts/soak.py --work /tmp/soak                     # 30 minutes, 1 GB
  /usr/bin/python3 scripts/soak.py --work /tmp/soak --minutes 4 --corpus-mb 200 --kill-every 60 --pause-every 90

Needs a built CLI (dotnet build src/Cli -c Release) and pyzmq (Debian python3-zmq: run it with /usr/bin/python3).
"""

import argparse
import http.server
import json
import math
import os
import random
import re
import signal
import socketserver
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared", "data")


def log(message):
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------------
# The corpus


def make_corpus(path, megabytes, seed):
    """JSON Lines of generated prose: sentences drawn from the Python docs (or a word list) in a seeded order."""
    if os.path.exists(path) and os.path.getsize(path) >= megabytes * 1_000_000:
        return
    rng = random.Random(seed)
    docs = os.path.join(SHARED, "text", "python3.11-doc-3.11.2-rst.jsonl.gz")
    sentences = []
    if os.path.exists(docs):
        import gzip
        with gzip.open(docs, "rt", encoding="utf-8") as f:
            for line in f:
                text = json.loads(line)["text"]
                sentences.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if 20 <= len(s.strip()) <= 400)
    if len(sentences) < 1000:
        words = "data loader stream batch token device model train shard rank epoch step loss gradient text corpus".split()
        sentences = [" ".join(rng.choice(words) for _ in range(rng.randint(6, 30))) + "." for _ in range(50_000)]
    target = megabytes * 1_000_000
    written = 0
    log(f"writing a {megabytes} MB corpus to {path}")
    with open(path + ".part", "w", encoding="utf-8") as f:
        i = 0
        while written < target:
            text = " ".join(rng.choice(sentences) for _ in range(rng.randint(5, 60)))
            line = json.dumps({"id": i, "text": text}, ensure_ascii=False) + "\n"
            f.write(line)
            written += len(line.encode("utf-8"))
            i += 1
    os.replace(path + ".part", path)


# ---------------------------------------------------------------------------------------------------------------------
# An HTTP server that cuts the connection every so many bytes


class CuttingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, path, cut_every):
        self.path_served = path
        self.size = os.path.getsize(path)
        self.cut_every = cut_every
        self.served = 0
        self.cuts = 0
        self.requests = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), CuttingHandler)


class CuttingHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        with server.lock:
            server.requests += 1
        start, end = 0, server.size - 1
        match = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            if match.group(2):
                end = min(end, int(match.group(2)))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{server.size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with open(server.path_served, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 16))
                if not chunk:
                    return
                with server.lock:
                    before = server.served
                    server.served += len(chunk)
                    cut = before // server.cut_every != server.served // server.cut_every
                    if cut:
                        server.cuts += 1
                try:
                    if cut:
                        # A dropped connection mid-body: half the chunk, then the socket is gone.
                        self.wfile.write(chunk[: len(chunk) // 2])
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return
                    self.wfile.write(chunk)
                except OSError:
                    return
                left -= len(chunk)


# ---------------------------------------------------------------------------------------------------------------------
# Processes


RUNNING = []


class Proc:
    def __init__(self, role, args, log_path):
        self.role = role
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.started = time.time()
        RUNNING.append(self)

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process.poll() is None


def sample(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss // 1024, fds
    except (OSError, StopIteration):
        return None


def garbage_peer(endpoint, rng):
    """Connects, misbehaves in every way docs/WIRE.md refuses, and leaves: what it sent and what it heard back."""
    import zmq
    context = zmq.Context.instance()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 100_000)
    sock.connect(endpoint)
    sent = 0
    try:
        for _ in range(50):
            sock.send_multipart([rng.randbytes(rng.randint(0, 300)) for _ in range(rng.randint(1, 4))])
            sent += 1
        sock.send_multipart([b"HELLO", b"2", b"1000000000", b"greedy"])
        sock.send_multipart([b"ACK", b"12345678901234567890"])
        sock.send_multipart([b"HELLO", b"99", b"4", b"future"])
        for _ in range(500):
            sock.send_multipart([b"PING"])
        sock.send(b"\0" * (1 << 20))  # over the loader's message limit: its connection is closed
        sent += 505
        time.sleep(1.0)
        heard = 0
        while sock.poll(100):
            sock.recv_multipart()
            heard += 1
        return sent, heard
    finally:
        sock.close()


def losses(path):
    """Every loss a device's plain progress logged."""
    values = []
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for line in f:
            for m in re.finditer(r"\bloss[ =:]+([-+]?(?:[0-9][0-9.eE+-]*|nan|inf(?:inity)?))(?![A-Za-z])", line, re.IGNORECASE):
                values.append(float(m.group(1)))
    return values


def ranges(text):
    out = set()
    for part in (text or "").split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


# ---------------------------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True, help="a folder for the corpus, logs, samples and reports")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--corpus-mb", type=int, default=1000)
    parser.add_argument("--cut-mb", type=int, default=100, help="the HTTP server drops the connection every this many MB served")
    parser.add_argument("--kill-every", type=float, default=240, help="seconds between SIGKILLs of device A")
    parser.add_argument("--pause-every", type=float, default=300, help="seconds between SIGSTOPs of device B")
    parser.add_argument("--garbage-every", type=float, default=60)
    parser.add_argument("--peer-timeout", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds before RSS and descriptors are expected flat (default: a fifth of the run, at least 180: "
                             "the loader's RSS grows until its first garbage collection, about 6 minutes in at this rate)")
    parser.add_argument("--streamloader", default=os.path.join(REPO, "src", "Cli", "bin", "Release", "net10.0", "streamloader"))
    parser.add_argument("--seed", type=int, default=30)
    a = parser.parse_args()
    if a.warmup is None:
        a.warmup = max(180.0, a.minutes * 60 / 5)

    try:
        import zmq  # noqa: F401 (the garbage peer)
    except ImportError:
        sys.exit("soak: needs pyzmq (Debian python3-zmq); run it with /usr/bin/python3")
    os.makedirs(a.work, exist_ok=True)
    if not os.path.exists(a.streamloader):
        sys.exit(f"soak: {a.streamloader} not found: build it first (dotnet build src/Cli -c Release)")
    rng = random.Random(a.seed)
    corpus = os.path.join(a.work, "corpus.jsonl")
    make_corpus(corpus, a.corpus_mb, a.seed)
    server = CuttingServer(corpus, a.cut_mb * 1_000_000)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/corpus.jsonl"

    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"tcp://127.0.0.1:{port}"
    vocab = os.path.join(SHARED, "tokenizers", "bert-base-uncased-vocab.txt")
    tokenizer = ["--vocab", vocab] if os.path.exists(vocab) else []
    timeout = str(a.peer_timeout)
    loader_json = os.path.join(a.work, "loader.json")
    for stale in os.listdir(a.work):
        if stale.endswith(".json") or stale.endswith(".log") or stale == "samples.csv":
            os.remove(os.path.join(a.work, stale))
    loader = Proc("loader", [a.streamloader, "--task", "mlm", "--role", "loader", "--source", url, *tokenizer,
                             "--seq-len", "128", "--batch-size", "16", "--out", endpoint, "--expect-consumers", "2",
                             "--peer-timeout", timeout, "--ack-timeout", "60", "--progress", "plain",
                             "--summary-json", loader_json], os.path.join(a.work, "loader.log"))
    devices = {}
    instances = []

    def start_device(name):
        n = sum(1 for i in instances if i.role == name)
        proc = Proc(name, [a.streamloader, "--role", "device", "--in", endpoint, "--model", "micro", "--checkpoint", "none",
                           "--peer-timeout", timeout, "--progress", "plain", "--log-every", "50",
                           "--summary-json", os.path.join(a.work, f"device-{name}-{n}.json")],
                    os.path.join(a.work, f"device-{name}-{n}.log"))
        proc.index = n
        devices[name] = proc
        instances.append(proc)

    start_device("A")
    start_device("B")
    faults = {"killed": 0, "paused": 0, "restarted": 0, "garbage_peers": 0, "garbage_messages": 0, "garbage_replies": 0}
    samples = []
    began = time.time()
    end = began + a.minutes * 60
    next_kill = began + a.kill_every
    next_pause = began + min(a.pause_every, a.kill_every / 2 + 60)
    next_garbage = began + a.garbage_every
    next_sample = began
    paused_until = None
    with open(os.path.join(a.work, "samples.csv"), "w") as csv:
        csv.write("seconds,process,pid,rss_mb,fds\n")
        while time.time() < end:
            now = time.time()
            if not loader.alive():
                log(f"the loader exited early ({loader.process.returncode}); see {loader.log_path}")
                break
            for name, proc in list(devices.items()):
                if not proc.alive() and not (name == "B" and paused_until):
                    log(f"device {name} (pid {proc.pid}) exited {proc.process.returncode}: restarted")
                    faults["restarted"] += 1
                    start_device(name)
            if now >= next_kill:
                log(f"SIGKILL device A (pid {devices['A'].pid})")
                devices["A"].process.kill()
                devices["A"].process.wait()
                faults["killed"] += 1
                next_kill += a.kill_every
            if now >= next_pause and paused_until is None and devices["B"].alive():
                log(f"SIGSTOP device B (pid {devices['B'].pid}) for {a.peer_timeout + 4:.0f} s")
                os.kill(devices["B"].pid, signal.SIGSTOP)
                paused_until = now + a.peer_timeout + 4
                faults["paused"] += 1
                next_pause += a.pause_every
            if paused_until and now >= paused_until:
                os.kill(devices["B"].pid, signal.SIGCONT)
                log(f"SIGCONT device B (pid {devices['B'].pid})")
                paused_until = None
            if now >= next_garbage:
                sent, heard = garbage_peer(endpoint, rng)
                faults["garbage_peers"] += 1
                faults["garbage_messages"] += sent
                faults["garbage_replies"] += heard
                next_garbage += a.garbage_every
            if now >= next_sample:
                for proc in [loader, *devices.values()]:
                    got = sample(proc.pid)
                    if got:
                        rss, fds = got
                        label = proc.role if proc.role == "loader" else f"{proc.role}{proc.index}"
                        samples.append((now - began, label, rss, fds))
                        csv.write(f"{now - began:.0f},{label},{proc.pid},{rss},{fds}\n")
                csv.flush()
                next_sample += 10
            time.sleep(0.2)

    # The end: the loader is stopped; the devices hear it and exit.
    if paused_until:
        os.kill(devices["B"].pid, signal.SIGCONT)
    log("SIGTERM the loader")
    if loader.alive():
        loader.process.send_signal(signal.SIGTERM)
    try:
        loader_exit = loader.process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        loader.process.kill()
        loader_exit = "hung"
    device_exits = {}
    for proc in devices.values():
        try:
            device_exits[f"{proc.role}{proc.index}"] = proc.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.process.kill()
            device_exits[f"{proc.role}{proc.index}"] = "hung"
    server.shutdown()

    checks = {}
    figures = {"minutes": round((time.time() - began) / 60, 1), "corpus_mb": round(os.path.getsize(corpus) / 1e6),
               "http_mb_served": round(server.served / 1e6), "http_cuts": server.cuts, "http_requests": server.requests,
               "faults": faults, "loader_exit": loader_exit, "device_exits": device_exits,
               "device_instances": len(instances)}
    report = {}
    if os.path.exists(loader_json):
        with open(loader_json) as f:
            report = json.load(f)
    transport = report.get("transport", {})
    figures["transport"] = {k: v for k, v in transport.items() if not isinstance(v, dict)}
    by_consumer = {k: ranges(v) for k, v in (transport.get("sequences_by_consumer") or {}).items()}
    union = set()
    overlap = 0
    for seqs in by_consumer.values():
        overlap += len(union & seqs)
        union |= seqs
    checks["loader report written"] = bool(transport)
    checks["every batch accounted for (sent = acknowledged + returned + undeliverable + in flight at the stop)"] = bool(transport) and transport.get("unaccounted") is None \
        and transport.get("sent", -1) == transport.get("acknowledged", 0) + transport.get("returned", 0) + transport.get("undeliverable", 0) + transport.get("in_flight_at_stop", 0)
    checks["no batch acknowledged twice"] = bool(transport) and overlap == 0 and len(union) == transport.get("acknowledged")
    checks["none undeliverable"] = transport.get("undeliverable", 1) == 0
    devices_checked = 0
    missing = 0
    for proc in instances:
        path = os.path.join(a.work, f"device-{proc.role}-{proc.index}.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            received = ranges(json.load(f).get("transport", {}).get("received_sequences"))
        name = next((k for k in by_consumer if k.endswith(f":{proc.pid}")), None)
        if name is None:
            continue
        devices_checked += 1
        missing += len(by_consumer[name] - received)
    figures["device_reports_checked"] = devices_checked
    checks["each reporting device received what the loader says it acknowledged"] = missing == 0
    all_losses = []
    for proc in instances:
        all_losses.extend(losses(proc.log_path))
    figures["losses_logged"] = len(all_losses)
    if all_losses:
        figures["loss_first_last"] = [all_losses[0], all_losses[-1]]
    checks["every loss finite"] = bool(all_losses) and all(math.isfinite(x) for x in all_losses)

    def flat(kind):
        values = [(t, s[2] if kind == "rss" else s[3]) for s in samples for t in [s[0]] if s[1] == "loader"]
        early = [v for t, v in values if a.warmup <= t < a.warmup + 180]
        late = [v for t, v in values if t >= values[-1][0] - 180] if values else []
        if not early or not late:
            return None, None, False
        e, l = statistics.median(early), statistics.median(late)
        return e, l, abs(l - e) <= 0.1 * e

    for kind in ("rss", "fds"):
        e, l, ok = flat(kind)
        figures[f"loader_{kind}_after_warmup_and_at_end"] = [e, l]
        checks[f"loader {kind} flat after warm-up (within 10%)"] = ok
    figures["device_peak_rss_mb"] = max((s[2] for s in samples if s[1] != "loader"), default=None)
    result = {"figures": figures, "checks": checks, "passed": all(checks.values())}
    with open(os.path.join(a.work, "soak.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        # Nothing outlives the soak, whatever stopped it.
        for leftover in RUNNING:
            if leftover.alive():
                leftover.process.kill()
