"""The operator's `calipso` commands over a stored inventory (the recorded lab, scanned into an
embedded store): filters, JSON output, and a clique as a tree of hosts and objects."""

from __future__ import annotations

import json

import pytest

from calipso_core.cli import main
from calipso_core.discovery.scan import run_scan
from calipso_core.store import EmbeddedStore
from tests.recorded_lab import recorded_description, recorded_facts

DESCRIPTION = recorded_description()


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "inventory.db"
    facts = recorded_facts()
    run_scan("lab", facts, EmbeddedStore(path))
    return str(path)


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_objects_filtered_by_type_and_host_as_json(capsys, store_path):
    code, out, _ = run(capsys, "objects", "--store", store_path, "--type", "vnic",
                       "--host", "compute3", "--json")
    assert code == 0
    vnics = json.loads(out)
    taps = {p["devices"]["tap"] for p in DESCRIPTION["ports"]
            if p["binding:host_id"] == "compute3"}
    assert {v["name"] for v in vnics} == taps


def test_links_and_cliques_tables(capsys, store_path):
    code, out, _ = run(capsys, "links", "--store", store_path, "--type", "otep-otep")
    assert code == 0 and out.count("otep-otep") == 6 and "[down]" not in out
    code, out, _ = run(capsys, "cliques", "--store", store_path, "--type", "otep")
    assert code == 0 and len(out.strip().splitlines()) == 1 + len(DESCRIPTION["hosts"])


def test_an_instances_clique_as_a_tree(capsys, store_path):
    instance_id = next(s["id"] for s in DESCRIPTION["servers"] if s["host"] == "compute1")
    code, out, _ = run(capsys, "clique", "--store", store_path, instance_id)
    assert code == 0
    assert out.startswith("instance clique of")
    assert "  compute1\n" in out and "vedge" in out and "otep" in out
    code, _, err = run(capsys, "clique", "--store", store_path, "no-such-vm")
    assert code == 1 and "no object 'no-such-vm'" in err
