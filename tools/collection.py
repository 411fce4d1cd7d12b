"""Stage and build the collection calipso.topology from this checkout.

In the checkout the collection's plugins live under collections/ansible_collections/calipso/
topology (where ansible.cfg points Ansible), while roles/ and playbooks/ sit at the root so that
playbooks run from a plain checkout. Staging gathers them, with the root galaxy.yml, into one
collection tree; `build` turns that into the tarball ansible-galaxy publishes, and the staged tree
is also where `ansible-test` runs.

    python tools/collection.py stage DEST   # DEST/ansible_collections/calipso/topology
    python tools/collection.py build OUTDIR # OUTDIR/calipso-topology-<version>.tar.gz
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IN_TREE = ROOT / "collections" / "ansible_collections" / "calipso" / "topology"
FROM_ROOT = ("galaxy.yml", "README.md", "LICENSE", "roles", "playbooks")
# Molecule scenarios run from the checkout (they use its tests/ and the lab), not from an
# installed collection.
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "output", "molecule")


def stage(dest: Path) -> Path:
    """Copy the collection into dest/ansible_collections/calipso/topology and return that path."""
    target = dest / "ansible_collections" / "calipso" / "topology"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(IN_TREE, target, ignore=IGNORE, symlinks=False)
    for name in FROM_ROOT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=IGNORE)
        else:
            shutil.copy2(source, target / name)
    return target


def build(output_dir: Path) -> Path:
    """Build the collection tarball into output_dir and return its path."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="calipso-collection-") as tmp:
        staged = stage(Path(tmp))
        galaxy = Path(sys.executable).parent / "ansible-galaxy"
        subprocess.run([str(galaxy), "collection", "build", "--force", "--output-path",
                        str(output_dir), str(staged)], check=True, capture_output=True, text=True)
    built = sorted(output_dir.glob("calipso-topology-*.tar.gz"))
    if not built:
        raise RuntimeError(f"ansible-galaxy built no tarball in {output_dir}")
    return built[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("stage", "build"))
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    print(stage(args.dest) if args.action == "stage" else build(args.dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
