"""Time kazoo's DataWatch and Lock recipes for the zkstruct round-trip bench.

Usage: kazoo_peer.py SERVERS ROOT RECIPE WARMUP ITERATIONS PAYLOAD_BYTES

RECIPE is "datawatch" (a set on one session until a DataWatch on a second session has the
data) or "lock" (Lock acquire, set, release on one session). Prints one JSON object,
{"recipe": RECIPE, "nanos": [...]}, with one duration per iteration after the warm-up,
timed with time.perf_counter_ns.
"""

import json
import sys
import threading
import time

from kazoo.client import KazooClient

TIMEOUT_SECONDS = 30


def connect(servers):
    client = KazooClient(hosts=servers)
    client.start(timeout=15)
    return client


def put(client, path, payload):
    client.ensure_path(path.rsplit("/", 1)[0])
    if client.exists(path):
        client.set(path, payload)
    else:
        client.create(path, payload)


def time_datawatch(servers, root, rounds, payload):
    writer = connect(servers)
    reader = connect(servers)
    path = root + "/payload"
    put(writer, path, payload)

    arrived = {}
    condition = threading.Condition()

    def on_change(data, stat):
        now = time.perf_counter_ns()
        if stat is None:
            return
        with condition:
            arrived[stat.version] = now
            condition.notify_all()

    reader.DataWatch(path, on_change)
    version = writer.exists(path).version
    nanos = []
    for _ in range(rounds):
        version += 1
        start = time.perf_counter_ns()
        written = writer.set_async(path, payload)
        with condition:
            if not condition.wait_for(lambda: version in arrived, timeout=TIMEOUT_SECONDS):
                sys.exit("no DataWatch callback for version %d within %d s" % (version, TIMEOUT_SECONDS))
            end = arrived.pop(version)
        written.get(timeout=TIMEOUT_SECONDS)
        nanos.append(end - start)
    writer.stop()
    reader.stop()
    return nanos


def time_lock(servers, root, rounds, payload):
    client = connect(servers)
    path = root + "/payload"
    put(client, path, payload)
    lock = client.Lock(root + "/lock")
    nanos = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        with lock:
            client.set(path, payload)
        nanos.append(time.perf_counter_ns() - start)
    client.stop()
    return nanos


def main():
    servers, root, recipe, warmup, iterations, payload_bytes = sys.argv[1:7]
    warmup, iterations = int(warmup), int(iterations)
    payload = b"x" * int(payload_bytes)
    recipes = {"datawatch": time_datawatch, "lock": time_lock}
    if recipe not in recipes:
        sys.exit("unknown recipe %r; expected one of %s" % (recipe, ", ".join(recipes)))
    nanos = recipes[recipe](servers, root + "/" + recipe, warmup + iterations, payload)
    print(json.dumps({"recipe": recipe, "nanos": nanos[warmup:]}))


if __name__ == "__main__":
    main()
