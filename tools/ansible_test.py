"""Run `ansible-test` (sanity, units) on the collection, offline, from this checkout.

ansible-test wants the collection at a path ending in ansible_collections/<ns>/<name>, so it
runs on the staged copy tools/collection.py makes; and its pip bootstrap downloads a script from
a site out of reach, so the offline stand-in is put in its cache first.

    python tools/ansible_test.py sanity|units [extra ansible-test arguments]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.collection import stage

HERE = Path(__file__).resolve().parent
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
PIP_BOOTSTRAP_VERSIONS = ("24_2", "24_3", "25_0", "25_1", "25_2")


def install_pip_bootstrap() -> None:
    cache = Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    for version in PIP_BOOTSTRAP_VERSIONS:
        target = cache / f"get_pip_{version}.py"
        if not target.exists():
            shutil.copy(HERE / "get_pip_offline.py", target)


def command(action: str, extra: list[str]) -> list[str]:
    ansible_test = str(Path(sys.executable).parent / "ansible-test")
    if action == "sanity":
        return [ansible_test, "sanity", "--python", PYTHON_VERSION, "--color", "no", *extra]
    return [ansible_test, "units", "--venv", "--python", PYTHON_VERSION, "--color", "no", *extra]


def run(action: str, extra: list[str]) -> subprocess.CompletedProcess:
    install_pip_bootstrap()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory(prefix="calipso-ansible-test-") as tmp:
        staged = stage(Path(tmp))
        return subprocess.run(command(action, extra), cwd=staged, env=env, capture_output=True,
                              text=True, timeout=1200, check=False)


def main(argv: list[str]) -> int:
    result = run(argv[0], argv[1:])
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
