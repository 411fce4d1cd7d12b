"""Shared parts of Calipso's check plugins: states, output, arguments, commands and files.

The plugins run on every monitored host (through a Sensu agent or a classic Sensu client) with the
host's own /usr/bin/python3, so this module and the plugins use the standard library only and keep
to Python 3.8 syntax. They follow the Nagios plugin conventions:

- exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for --help and for bad arguments);
- one line of output, `CHECK_NAME STATE - message | perfdata`, where each perfdata item is
  `label=value[UOM];warn;crit;min;max` (trailing empty fields left out, `U` for an unknown value).

Every command runs as an argv list (never through a shell) in the C locale with a timeout, and a
check only reads: it changes nothing on the host. A missing tool, a tool's malformed output or a
bad argument is UNKNOWN with a message that says which.

A check is a function `check(args, system) -> Result` that reaches the host only through `system`
(a `System`: `run`, `run_all`, `read`), so that tests can hand it a fake system holding recorded
command outputs and files; `main` parses the arguments, runs the check against the real system
and prints the line.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, NoReturn

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}

# Subprocess timeout (seconds) of a command that answers at once (ip, reading the kernel's state).
QUICK_TIMEOUT = 1.5
# Subprocess timeout of an OVS client call: just under its own --timeout=2, so that a hung daemon
# is reported before a two-second check budget is spent.
OVS_TIMEOUT = 1.8
C_LOCALE = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"}


# -- results -----------------------------------------------------------------------------------

class Perf(NamedTuple):
    """One performance data item; value None is written as U (unknown)."""

    label: str
    value: float | None
    uom: str = ""
    warn: str = ""
    crit: str = ""
    minimum: float | None = None
    maximum: float | None = None

    def render(self) -> str:
        label = self.label
        if re.search(r"[\s'=]", label):
            label = "'" + label.replace("'", "''") + "'"
        value = "U" if self.value is None else format_number(self.value) + self.uom
        fields = [value, self.warn, self.crit,
                  "" if self.minimum is None else format_number(self.minimum),
                  "" if self.maximum is None else format_number(self.maximum)]
        while len(fields) > 1 and fields[-1] == "":
            fields.pop()
        return label + "=" + ";".join(fields)


class Result(NamedTuple):
    """What a check found: its state, a one-line message and its performance data."""

    state: int
    message: str
    perfdata: tuple[Perf, ...] = ()


class CheckError(Exception):
    """Stops a check with a state (UNKNOWN unless told) and a message."""

    def __init__(self, message: str, state: int = UNKNOWN,
                 perfdata: Sequence[Perf] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.state = state
        self.perfdata = tuple(perfdata)


def unknown(message: str) -> NoReturn:
    raise CheckError(message, UNKNOWN)


def critical(message: str, perfdata: Sequence[Perf] = ()) -> NoReturn:
    raise CheckError(message, CRITICAL, perfdata)


def format_number(value: float) -> str:
    """Numbers as perfdata wants them: no exponent, no needless trailing zeros."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def plural(count: int, word: str, suffix: str = "s") -> str:
    """`1 member`, `2 members`."""
    return f"{count} {word}{'' if count == 1 else suffix}"


def worst(states: Sequence[int]) -> int:
    """The worst of several states: CRITICAL > WARNING > UNKNOWN > OK."""
    order = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}
    return max(states, key=lambda state: order[state], default=OK)


def render(name: str, result: Result) -> str:
    """The plugin's single line of output."""
    message = " ".join(result.message.split()).replace("|", "/")
    line = f"{name} {STATE_NAMES[result.state]} - {message}"
    if result.perfdata:
        line += " | " + " ".join(perf.render() for perf in result.perfdata)
    return line


# -- the host -----------------------------------------------------------------------------------

class Completed(NamedTuple):
    """A finished (or timed-out) command."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def error(self) -> str:
        """Why the command failed, in one line: its stderr, else its stdout, else its status."""
        if self.timed_out:
            return "no answer within the timeout"
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return text[-1].strip() if text else f"exit status {self.returncode}"


class ToolMissing(CheckError):
    def __init__(self, tool: str) -> None:
        super().__init__(f"{tool} not found: install it or fix PATH", UNKNOWN)
        self.tool = tool


class System:
    """The host as a check sees it: commands and files. Tests replace it with a fake."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.env.update(C_LOCALE)

    def run(self, argv: Sequence[str], timeout: float = QUICK_TIMEOUT) -> Completed:
        """Run argv (no shell, C locale); a missing program raises ToolMissing, one that cannot
        start a CheckError (UNKNOWN); a timeout is a Completed with timed_out set."""
        try:
            proc = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, errors="replace", env=self.env, timeout=timeout,
                                  check=False)
        except FileNotFoundError:
            raise ToolMissing(argv[0]) from None
        except OSError as exc:  # not executable, too many processes ...
            unknown(f"cannot run {argv[0]}: {exc.strerror or exc}")
        except subprocess.TimeoutExpired as exc:
            return Completed(tuple(argv), None, _text(exc.stdout), _text(exc.stderr), True)
        return Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)

    def run_all(self, argvs: Sequence[Sequence[str]],
                timeout: float = QUICK_TIMEOUT) -> list[Completed]:
        """Run several commands at once; results in the order given."""
        if len(argvs) <= 1:
            return [self.run(argv, timeout) for argv in argvs]
        with ThreadPoolExecutor(max_workers=min(len(argvs), 32)) as pool:
            futures = [pool.submit(self.run, argv, timeout) for argv in argvs]
            return [future.result() for future in futures]

    def read(self, path: str) -> str:
        """A file's text (raises OSError as open() does)."""
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def command_line(argv: Sequence[str]) -> str:
    return " ".join(argv)


def parse_json(completed: Completed) -> Any:
    """A command's JSON output; malformed JSON is UNKNOWN (empty output is an empty list)."""
    text = completed.stdout.strip()
    if not text:
        return []
    try:
        return json.loads(text)
    except ValueError as exc:
        unknown(f"malformed JSON from `{command_line(completed.argv)}`: {exc}")


def require(completed: Completed, what: str = "") -> Completed:
    """A command that must succeed for the check to say anything: else UNKNOWN."""
    if not completed.ok:
        context = f" ({what})" if what else ""
        unknown(f"`{command_line(completed.argv)}` failed{context}: {completed.error()}")
    return completed


# -- links --------------------------------------------------------------------------------------

DOWN_OPERSTATES = ("DOWN", "LOWERLAYERDOWN", "NOTPRESENT")
"""Operational states of a link that carries no traffic (iproute2 spelling)."""


def show_link(system: System, device: str, what: str, details: bool = False) -> dict:
    """The device's entry of `ip -j [-d] link show dev DEVICE`; CRITICAL "<what> DEVICE does not
    exist" when there is none, UNKNOWN when the output is not one entry."""
    argv = ["ip", "-j", *(["-d"] if details else []), "link", "show", "dev", device]
    shown = system.run(argv)
    if not shown.ok and "does not exist" in shown.error():
        critical(f"{what} {device} does not exist")
    links = parse_json(require(shown))
    if not isinstance(links, list) or len(links) != 1 or not isinstance(links[0], dict):
        unknown(f"unexpected output of `{command_line(argv)}`")
    return links[0]


def has_carrier(link: dict) -> bool:
    """Whether an `ip -j link` entry (administratively up) carries traffic."""
    return link.get("operstate", "UNKNOWN") not in DOWN_OPERSTATES \
        and "NO-CARRIER" not in link.get("flags", [])


# -- ping -------------------------------------------------------------------------------------

class PingStats(NamedTuple):
    transmitted: int
    received: int
    loss: float  # percent
    rtt_avg: float | None  # milliseconds


_PING_COUNTS = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_PING_LOSS = re.compile(r"([\d.]+)% packet loss")
_PING_RTT = re.compile(r"(?:rtt|round-trip) min/avg/max(?:/mdev|/stddev)? = "
                       r"[\d.]+/([\d.]+)/")


def parse_ping(output: str) -> PingStats | None:
    """iputils ping's summary (also BusyBox's); None if there is none."""
    counts = _PING_COUNTS.search(output)
    loss = _PING_LOSS.search(output)
    if not counts or not loss:
        return None
    rtt = _PING_RTT.search(output)
    return PingStats(int(counts.group(1)), int(counts.group(2)), float(loss.group(1)),
                     float(rtt.group(1)) if rtt else None)


PING_INTERVAL = 0.2
"""Seconds between echo requests (the shortest an unprivileged ping accepts)."""
PING_WAIT = 1
"""Seconds ping waits for the last reply."""


def ping_argv(count: int, target: str, quiet: bool = False,
              source: str | None = None) -> list[str]:
    """`ping -n [-q] -c COUNT -i PING_INTERVAL -W PING_WAIT [-I SOURCE] TARGET`."""
    return ["ping", "-n", *(["-q"] if quiet else []), "-c", str(count), "-i", str(PING_INTERVAL),
            "-W", str(PING_WAIT), *(["-I", source] if source else []), target]


def ping_timeout(count: int, interval: float = PING_INTERVAL, wait: float = PING_WAIT) -> float:
    """Subprocess timeout of `ping -c COUNT -i INTERVAL -W WAIT`: its own run time and a margin."""
    return (count - 1) * interval + wait + 0.6


def ping_stats(completed: Completed, count: int, what: str = "") -> tuple[PingStats, str | None]:
    """A ping run's statistics, and why it gave none: ping could not send (no route, a local IP
    not on this host) or never finished, which counts as every request lost. A run that gives
    neither a summary nor a reason is UNKNOWN ("no summary in ping's output<what>")."""
    stats = parse_ping(completed.stdout)
    if stats is not None:
        return stats, None
    if not (completed.timed_out or completed.returncode == 2 or completed.stderr.strip()):
        unknown(f"no summary in ping's output{what}: {completed.error()}")
    return PingStats(count, 0, 100.0, None), completed.error()


# -- arguments and main --------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    """argparse the Nagios way: --help and usage errors exit 3 (UNKNOWN); errors say so in the
    plugin's one output line."""

    def __init__(self, check_name: str, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)
        self.check_name = check_name

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        sys.exit(UNKNOWN)

    def error(self, message: str) -> NoReturn:
        sys.stdout.write(render(self.check_name, Result(UNKNOWN, "usage: " + message)) + "\n")
        self.print_usage(sys.stderr)
        sys.exit(UNKNOWN)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0 or math.isnan(value) or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, 0 or more: {text!r}")
    return value


def ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from None


def device_name(text: str) -> str:
    """A network device or namespace name: no slash, no whitespace, not empty, no option."""
    if (not text or text.startswith("-") or "/" in text or re.search(r"\s", text)
            or text in (".", "..")):
        raise argparse.ArgumentTypeError(f"not a valid name: {text!r}")
    return text


def main(name: str, parser: argparse.ArgumentParser,
         check: Callable[[argparse.Namespace, System], Result],
         argv: Sequence[str] | None = None, system: System | None = None) -> int:
    """Parse arguments, run the check, print its line, return its exit status."""
    args = parser.parse_args(argv)
    try:
        result = check(args, system if system is not None else System())
    except CheckError as exc:
        result = Result(exc.state, exc.message, exc.perfdata)
    except Exception as exc:  # a plugin must always answer in its one line
        result = Result(UNKNOWN, f"internal error: {type(exc).__name__}: {exc}")
    sys.stdout.write(render(name, result) + "\n")
    sys.stdout.flush()
    return result.state
