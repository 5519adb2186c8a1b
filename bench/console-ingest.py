#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# console-ingest.py URL RUN_TAG NODES BATCHES BATCH_SIZE CRED...: NODES
# processes, each a simulated node with its own credential and keep-alive
# connection, POST BATCHES batches of BATCH_SIZE new events each to
# URL/api/v1/events at the same time.  The bodies are made before the clock
# starts (so the figure is the console's, not Python's JSON); every answer
# must be 200 with all events accepted.  Prints "events seconds".
import http.client, json, multiprocessing as mp, os, sys, time, urllib.parse

def bodies(tag, node, batches, size):
    out = []
    for b in range(batches):
        evs = []
        for i in range(size):
            evs.append({"id": os.urandom(16).hex(), "time": "2026-12-08T02:16:18.%06dZ" % (i * 997 % 1000000),
                        "component": "icap", "type": "detection" if i % 10 == 0 else "scan",
                        "severity": "high" if i % 10 == 0 else "info", "verdict": "INFECTED" if i % 10 == 0 else "CLEAN",
                        "action": "deny" if i % 10 == 0 else "allow",
                        "threats": ["Bench.Threat.%d" % (i % 50)] if i % 10 == 0 else [],
                        "object": {"url": "http://bench.example/%s/%d/%d" % (tag, b, i), "size": 1000 + i},
                        "client": {"ip": "10.%d.%d.%d" % (node, b % 250, i % 250), "user": "u%d" % (i % 100)},
                        "method": "RESPMOD"})
        out.append(json.dumps({"events": evs}).encode())
    return out

def worker(url, cred, payloads, start, q):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    start.wait()
    n = 0
    for p in payloads:
        c.request("POST", "/api/v1/events", p, {"Authorization": "Bearer " + cred,
                                                 "Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            q.put(("error", "%d %s" % (r.status, body[:200]))); return
        n += json.loads(body)["accepted"]
    q.put(("ok", n))

def main():
    url, tag, nodes, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    creds = sys.argv[6:6 + nodes]
    payloads = [bodies(tag, k, batches, size) for k in range(nodes)]
    start, q = mp.Event(), mp.Queue()
    ps = [mp.Process(target=worker, args=(url, creds[k], payloads[k], start, q)) for k in range(nodes)]
    for p in ps: p.start()
    time.sleep(0.2)  # let every process connect-ready; timing starts at the signal
    t0 = time.monotonic(); start.set()
    total = 0
    for _ in ps:
        kind, v = q.get()
        if kind != "ok":
            print("error:", v, file=sys.stderr); sys.exit(1)
        total += v
    dt = time.monotonic() - t0
    for p in ps: p.join()
    print(total, "%.3f" % dt)

if __name__ == "__main__":
    main()
