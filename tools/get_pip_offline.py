"""Offline stand-in for the get-pip bootstrap script that `ansible-test` downloads from a site
these machines cannot reach: it runs `pip install` with the same arguments from the pip wheel
bundled with the interpreter's ensurepip. tools/ansible_test.py puts it where ansible-test looks
for its cached copy."""

import ensurepip
import glob
import os
import sys

# get-pip's own switches, which pip install does not know.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main() -> int:
    bundled = os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
    wheels = sorted(glob.glob(os.path.join(bundled, "pip-*.whl")))
    if not wheels:
        sys.exit(f"no pip wheel bundled with ensurepip in {bundled}")
    sys.path.insert(0, wheels[-1])
    from pip._internal.cli.main import main as pip_main

    return pip_main(["install"] + [a for a in sys.argv[1:] if a not in GET_PIP_ONLY])


if __name__ == "__main__":
    sys.exit(main())
