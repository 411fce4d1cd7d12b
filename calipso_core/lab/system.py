"""Running the commands that build and inspect the lab: argv lists, C locale, clear errors.

Every lab host is a set of namespaces held by an anchor process (see hosts.py); `in_host` turns an
argv into one that runs inside them with that host's OVS environment, the way an SSH session on
the host would see it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

C_LOCALE = {"LC_ALL": "C", "LANG": "C"}


class CommandError(RuntimeError):
    """A lab command failed; the message names the command, its exit code and its stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(f"command {' '.join(self.argv)!r} exited {returncode}: {self.stderr}")


def run(argv: Sequence[str], *, stdin: str | None = None, check: bool = True,
        env: Mapping[str, str] | None = None, timeout: float = 60) -> str:
    """Run argv (never through a shell) and return its stdout."""
    full_env = {**os.environ, **C_LOCALE, **(env or {})}
    try:
        proc = subprocess.run(list(argv), input=stdin, capture_output=True, text=True,
                              env=full_env, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise CommandError(argv, 127, f"{argv[0]}: not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(argv, -1, f"timed out after {timeout} s") from exc
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr)
    return proc.stdout


@dataclass(frozen=True)
class HostNamespaces:
    """How to enter one lab host: its anchor's pid and its OVS environment (if it runs OVS)."""

    anchor_pid: int
    ovs_env: Mapping[str, str]

    def argv(self, argv: Sequence[str], *, mount: bool = True) -> list[str]:
        """argv run inside the host's network, UTS and (by default) mount namespaces."""
        enter = ["nsenter", "-t", str(self.anchor_pid), "--net", "--uts"]
        if mount:
            enter.append("--mount")
        env = [f"{k}={v}" for k, v in sorted(self.ovs_env.items())]
        return [*enter, "--", "env", *env, *argv]

    def run(self, argv: Sequence[str], *, stdin: str | None = None, check: bool = True) -> str:
        return run(self.argv(argv), stdin=stdin, check=check)

    def in_netns(self, netns: str, argv: Sequence[str], *, check: bool = True) -> str:
        """Run argv in one of the host's own named namespaces (qdhcp-..., qrouter-...)."""
        return self.run(["ip", "netns", "exec", netns, *argv], check=check)


def netns_run(netns: str, argv: Sequence[str], *, check: bool = True) -> str:
    """Run argv in a root-level named namespace (a lab host or a VM)."""
    return run(["ip", "netns", "exec", netns, *argv], check=check)
