"""The API under load: an inventory of 20,000 VMs (1,000 hosts, bench/synthetic_facts.py) behind
the real server (`calipso-api`: gunicorn, Falcon, the store, stored tokens) on loopback, read at
increasing concurrency by object lookups and clique reads.

    .venv/bin/python bench/api_load.py                      # embedded store in a temporary dir
    .venv/bin/python bench/api_load.py --store /tmp/bench-inventory.db   # kept: reused next run
    .venv/bin/python bench/api_load.py --store mongodb://db.example.org/calipso_bench
    .venv/bin/python bench/api_load.py --concurrency 1,10,50 --duration 5 --workers 4

For each endpoint (GET /environments/bench/objects/{id}, GET .../objects/{id}/clique/graph, on
the VMs, picked at random) and each number of clients, every client (a thread with its own
keep-alive http.client connection) sends requests one after the other for `--duration` seconds
or until the clients have sent `--requests` in all; the bench prints requests, errors (any status
but 200), throughput and p50/p99 latency, then whether issue 6's goal holds: p99 under 50 ms for
a clique read at 50 concurrent clients.

Clique reads repeat on a dashboard, and each server process keeps its last 4,096 graphs
(api/resources/cliques.py): the default 2,000 VMs are read mostly from that cache once warm;
`--sample 20000` reads every VM, mostly beyond it, which measures the store's reads.

Building the inventory and committing it takes about a minute; a `--store` file that already
holds the `bench` environment is reused as it is. No LDAP is needed: the bench's token is issued
straight into the store through StoreTokenService, as a login would. The clients run on the
same machine as the server and take CPU from it: the figures are a lower bound of what the
server does alone.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bench.synthetic_facts import generate  # noqa: E402
from calipso_api.auth.tokens import StoreTokenService  # noqa: E402
from calipso_api.security import Principal  # noqa: E402
from calipso_core.discovery.assemble import assemble  # noqa: E402
from calipso_core.discovery.scan import commit_inventory  # noqa: E402
from calipso_core.lab.manager import free_loopback_port  # noqa: E402
from calipso_core.model.types import load_registry  # noqa: E402
from calipso_core.store import STORE_ENV, Store, open_store  # noqa: E402

ENVIRONMENT = "bench"
GOAL_CLIENTS = 50
GOAL_P99_MS = 50.0
# Never contacted (the token does not come from a login), but the server requires the section.
LDAP = {"url": "ldap://127.0.0.1:9", "bind": "direct", "connect_timeout": 1,
        "user_dn_template": "uid={username},ou=people,dc=example,dc=org",
        "groups_from": "memberOf",
        "group_roles": {"cn=bench,ou=groups,dc=example,dc=org": {"bench": "viewer"}}}


def build_inventory(store: Store, hosts: int, vms_per_host: int) -> None:
    """Discover the synthetic cloud (as bench/discovery.py does) and commit it as one scan."""
    started = time.perf_counter()
    facts, view = generate(hosts, vms_per_host)
    counts = commit_inventory(assemble(ENVIRONMENT, facts, view), store, load_registry()).counts
    print(f"inventory: {hosts * vms_per_host} VMs, {counts['objects']} objects,"
          f" {counts['links']} links, {counts['cliques']} cliques, built and stored in"
          f" {time.perf_counter() - started:.0f} s")


@contextmanager
def running_server(store_url: str, workdir: Path, workers: int,
                   threads: int) -> Iterator[tuple[str, int]]:
    """calipso-api serving the store on a free loopback port, until the block ends."""
    port = free_loopback_port()
    config = workdir / "api.yaml"
    config.write_text(yaml.safe_dump({"ldap": LDAP, "bind": f"127.0.0.1:{port}",
                                      "workers": workers, "threads": threads,
                                      "access_log": False}))
    # The store's URL goes through the environment, as a MongoDB password would.
    env = {**os.environ, STORE_ENV: store_url}
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([str(Path(sys.executable).with_name("calipso-api")),
                                   "--config", str(config)],
                                  stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise SystemExit(f"calipso-api exited:\n{log_path.read_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("calipso-api did not answer within 120 s") from None
            time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    def percentile(self, fraction: float) -> float:
        """Nearest-rank percentile of the latencies, in ms (NaN when none was measured)."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] * 1000


def load(address: tuple[str, int], token: str, paths: list[str], clients: int,
         duration: float, requests: int) -> Result:
    """clients threads, each sending GETs of random paths back to back until duration has
    passed or the clients have sent requests (0: no limit) in all."""
    result = Result()
    budget = iter(range(requests)) if requests else None
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}"}
    start = threading.Barrier(clients + 1)

    def client(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection(*address, timeout=30)
        latencies: list[float] = []
        errors = 0
        start.wait()
        while time.perf_counter() < deadline:
            if budget is not None:
                with lock:
                    if next(budget, None) is None:
                        break
            sent = time.perf_counter()
            try:
                connection.request("GET", rng.choice(paths), headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()  # reconnects at the next request
                ok = False
            latencies.append(time.perf_counter() - sent)
            errors += not ok
        connection.close()
        with lock:
            result.latencies.extend(latencies)
            result.errors += errors

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(clients)]
    for thread in threads:
        thread.start()
    # Set before the barrier opens, read by the clients after it: started threads do not eat
    # into the duration.
    deadline = time.perf_counter() + duration
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - began
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="a store URL or file (default: a temporary file)")
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--vms-per-host", type=int, default=20)
    parser.add_argument("--concurrency", default="1,10,50,100",
                        help="numbers of clients, comma-separated (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds per endpoint and concurrency (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=0,
                        help="stop a step after this many requests (default: duration only)")
    # Reads of the embedded store hold its lock and the GIL: processes, not threads, use the
    # cores; a few threads per process overlap the network with the work.
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="gunicorn processes (default: the CPU count, %(default)s)")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per process (default: %(default)s)")
    parser.add_argument("--sample", type=int, default=2000,
                        help="VMs the clients pick from at random (default: %(default)s)")
    args = parser.parse_args()
    concurrency = [int(n) for n in args.concurrency.split(",")]

    with tempfile.TemporaryDirectory(prefix="calipso-bench-") as tmp:
        workdir = Path(tmp)
        store_url = args.store or str(workdir / "inventory.db")
        store = open_store(store_url)
        if store.count("objects", ENVIRONMENT):
            print(f"inventory: reusing the {ENVIRONMENT!r} environment of {args.store}")
        else:
            build_inventory(store, args.hosts, args.vms_per_host)
        vms = [clique["focal_id"] for clique in store.find(
            "cliques", ENVIRONMENT, {"focal_type": "instance"}, projection=["focal_id"])]
        vms = random.Random(6).sample(vms, min(args.sample, len(vms)))
        token = StoreTokenService(store).issue(Principal("bench", {ENVIRONMENT: "viewer"})).token
        store.close()
        base = f"/environments/{ENVIRONMENT}/objects/"
        endpoints = {"object": [base + quote(vm, safe="") for vm in vms],
                     "clique graph": [f"{base}{quote(vm, safe='')}/clique/graph" for vm in vms]}

        print(f"server: calipso-api, {args.workers} workers x {args.threads} threads;"
              f" {len(vms)} VMs picked at random; {os.cpu_count()} CPUs, load average"
              f" {os.getloadavg()[0]:.1f}")
        with running_server(store_url, workdir, args.workers, args.threads) as address:
            # Every worker loads the store and builds its indexes at its first reads: not timed.
            for paths in endpoints.values():
                load(address, token, paths, args.workers * args.threads, 5.0, 0)
            print(f"{'endpoint':14} {'clients':>7} {'requests':>9} {'errors':>6} {'req/s':>8}"
                  f" {'p50 ms':>8} {'p99 ms':>8}")
            p99s: dict[tuple[str, int], float] = {}
            for name, paths in endpoints.items():
                for clients in concurrency:
                    result = load(address, token, paths, clients, args.duration, args.requests)
                    done = len(result.latencies)
                    p99s[name, clients] = result.percentile(0.99)
                    print(f"{name:14} {clients:7} {done:9} {result.errors:6}"
                          f" {done / result.elapsed:8.1f} {result.percentile(0.5):8.1f}"
                          f" {p99s[name, clients]:8.1f}", flush=True)
    goal = p99s.get(("clique graph", GOAL_CLIENTS))
    if goal is None:
        print(f"goal: not measured (run with {GOAL_CLIENTS} among --concurrency)")
    else:
        verdict = "met" if goal < GOAL_P99_MS else "NOT met"
        print(f"goal: p99 < {GOAL_P99_MS:g} ms for a clique read at {GOAL_CLIENTS} clients:"
              f" {verdict} ({goal:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
