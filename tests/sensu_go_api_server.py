"""The fake Sensu Go backend of tests/sensu_go_api.py as a process of its own, for the molecule
scenario of roles/sensu_backend, whose playbooks (create, converge, idempotence, verify) are
separate ansible-playbook runs that all need the same backend.

    python -m tests.sensu_go_api_server start --state-dir DIR [--username calipso]
    python -m tests.sensu_go_api_server stop --state-dir DIR

`start` serves the fake on a free loopback port, in a new session, for the user whose password is
in DIR/password (made on the first start, mode 0600: a password never goes on a command line,
where `ps` shows it, and callers read it from there), and returns once the API answers, printing
{"changed": ..., "url": ...} as JSON; the server's pid and URL are in DIR/pid and DIR/url. A
server already running from DIR is left as it is. `stop` ends it (SIGTERM, after checking that
the pid is still this server) and removes those files; without a server it changes nothing. A
server nobody stops exits after --lifetime seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

# Run as `python -m tests.sensu_go_api_server`, from the checkout.
CHECKOUT = Path(__file__).resolve().parents[1]
MODULE = "tests.sensu_go_api_server"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class ServerError(RuntimeError):
    """The server did not start or stop; the message says why."""


def _pid_of(state_dir: Path) -> int | None:
    """The pid in DIR/pid if that process is alive and is this server, else None."""
    try:
        pid = int((state_dir / "pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if MODULE.encode() not in cmdline or str(state_dir).encode() not in cmdline:
        return None
    return pid


def _answers(url: str) -> bool:
    """The API answers (401 to a request without credentials, as Sensu's does)."""
    try:
        with urllib.request.urlopen(f"{url}/api/core/v2/namespaces/default/checks",
                                    timeout=1):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except OSError:
        return False


def serve(state_dir: Path, username: str, lifetime: float) -> None:
    """Serve until SIGTERM (or the lifetime ends), publishing the URL and pid once listening."""
    from tests.sensu_go_api import running_sensu_go_api

    password = (state_dir / "password").read_text().strip()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with running_sensu_go_api(username=username, password=password) as fake:
        for name, value in (("pid", str(os.getpid())), ("url", fake.url)):
            staged = state_dir / f"{name}.new"
            staged.write_text(value + "\n")
            staged.replace(state_dir / name)
        done.wait(lifetime)
    for name in ("pid", "url"):
        (state_dir / name).unlink(missing_ok=True)


def start(state_dir: Path, username: str, lifetime: float) -> dict[str, object]:
    if _pid_of(state_dir) is not None:
        return {"changed": False, "url": (state_dir / "url").read_text().strip()}
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    password_file = state_dir / "password"
    if not password_file.exists():
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(18) + "\n")
    if password_file.stat().st_mode & 0o077:
        raise ServerError(f"{password_file} must be readable by its owner only")
    for name in ("pid", "url"):
        (state_dir / name).unlink(missing_ok=True)
    with (state_dir / "server.log").open("w") as log:
        # A session of its own: the server outlives the ansible-playbook run that started it.
        proc = subprocess.Popen(
            [sys.executable, "-m", MODULE, "serve", "--state-dir", str(state_dir),
             "--username", username, "--lifetime", str(lifetime)],
            cwd=CHECKOUT, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        url_file = state_dir / "url"
        if url_file.is_file() and _answers(url := url_file.read_text().strip()):
            return {"changed": True, "url": url}
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise ServerError(f"the fake Sensu Go API did not start; see {state_dir / 'server.log'}")


def stop(state_dir: Path) -> dict[str, object]:
    pid = _pid_of(state_dir)
    if pid is None:
        return {"changed": False}
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _pid_of(state_dir) == pid and Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            raise ServerError(f"the fake Sensu Go API (pid {pid}) did not stop")
        time.sleep(0.05)
    for name in ("pid", "url"):
        (state_dir / name).unlink(missing_ok=True)
    return {"changed": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("start", "stop", "serve"))
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--username", default="calipso")
    parser.add_argument("--lifetime", type=float, default=3600.0,
                        help="seconds after which a server nobody stopped exits")
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    try:
        if args.action == "serve":
            serve(state_dir, args.username, args.lifetime)
            return 0
        result = start(state_dir, args.username, args.lifetime) if args.action == "start" \
            else stop(state_dir)
    except ServerError as exc:
        print(f"sensu_go_api_server: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
