"""Shared fixtures: the session's lab (a real simulated cloud on this machine, needs root)."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from calipso_core.lab.manager import Lab
from calipso_core.lab.spec import LabSpec

# The test lab has its own name and addresses, so it never touches a demo lab on the machine.
TEST_LAB = LabSpec(name="ptest", address_base="10.251")


@contextmanager
def lab_of_its_own(spec: LabSpec, base: Path) -> Iterator[Lab]:
    """A lab kept under base, up for the block and down after it (needs root)."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root: run them through ./bootstrap test")
    lab = Lab(spec, base / "state", base / "inventory" / "hosts.yml")
    lab.up()
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_of_its_own(TEST_LAB, tmp_path_factory.mktemp("lab")) as session_lab:
        yield session_lab


@pytest.fixture(scope="session")
def description(lab: Lab) -> dict:
    return lab.description()


def ssh(lab: Lab, host: str, argv: list[str], check: bool = True) -> str:
    """Run argv on a lab host over SSH, exactly as an operator would (strict host keys)."""
    config = lab.paths.ssh_dir / "config"
    proc = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", host, "--",
                           shlex.join(argv)], capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"ssh {host} {argv} exited {proc.returncode}: {proc.stderr}")
    return proc.stdout


def in_vm(server: dict, argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", server["netns"], *argv],
                          capture_output=True, text=True, timeout=60)


TESTS_DIR = Path(__file__).parent
