"""Discovery at scale: build objects, links and cliques for a synthetic environment of N hosts
with M VMs each (bench/synthetic_facts.py), store it, and print time, memory and the store's
round trips; then rescan with nothing changed.

    .venv/bin/python bench/discovery.py [--hosts 1000] [--vms-per-host 20] [--store mongomock]

Goal (issue 4): 1,000 hosts with 20,000 VMs built in under 30 s on one core; round trips per scan
bounded by a constant per collection. `--store mongomock` runs MongoStore over mongomock (the
pymongo code path, in memory); `--store embedded` uses the on-disk embedded store.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mongomock  # noqa: E402

from bench.synthetic_facts import generate  # noqa: E402
from calipso_core.discovery.assemble import assemble  # noqa: E402
from calipso_core.discovery.scan import apply_state_rules  # noqa: E402
from calipso_core.model.cliques import compute_cliques  # noqa: E402
from calipso_core.model.types import load_registry  # noqa: E402
from calipso_core.store import EmbeddedStore, MongoStore  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--vms-per-host", type=int, default=20)
    parser.add_argument("--store", choices=("mongomock", "embedded"), default="mongomock")
    args = parser.parse_args()

    facts, view = generate(args.hosts, args.vms_per_host)
    registry = load_registry()
    tracemalloc.start()
    start = time.process_time()
    inventory = assemble("bench", facts, view)
    built = time.process_time()
    apply_state_rules(inventory, registry)
    cliques = compute_cliques("bench", inventory.objects, inventory.links,
                              registry.clique_types_for(inventory.properties))
    done = time.process_time()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{args.hosts} hosts, {args.hosts * args.vms_per_host} VMs: "
          f"{len(inventory.objects)} objects, {len(inventory.links)} links, "
          f"{len(cliques)} cliques")
    print(f"  objects and links: {built - start:6.2f} s CPU")
    print(f"  states and cliques: {done - built:6.2f} s CPU")
    print(f"  total build:       {done - start:6.2f} s CPU (goal < 30 s), "
          f"peak memory {peak / 2**20:.0f} MiB")

    with tempfile.TemporaryDirectory() as tmp:
        store = (MongoStore(mongomock.MongoClient().calipso) if args.store == "mongomock"
                 else EmbeddedStore(Path(tmp) / "inventory.db"))
        for label in ("first scan", "rescan, nothing changed"):
            started = time.perf_counter()
            with store.begin_scan("bench") as scan:
                scan.write("objects", inventory.objects)
                scan.write("links", inventory.links)
                scan.write("cliques", cliques)
            summary = scan.summary
            print(f"  store ({args.store}) {label}: {time.perf_counter() - started:6.2f} s, "
                  f"{summary.round_trips} round trips, {summary.documents_written} documents "
                  "written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
