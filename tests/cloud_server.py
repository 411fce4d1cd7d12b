"""The lab's OpenStack API started for a test, over any lab description, on a free loopback
port; with a clouds.yaml for openstacksdk."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from calipso_core.lab.cloud_api import clouds_yaml
from calipso_core.lab.manager import free_loopback_port

CLOUD = "calipso-lab-test"


@dataclass
class Api:
    url: str
    description: dict
    credentials: dict
    workdir: Path
    stderr: str = ""
    returncode: int | None = None

    def write_clouds_yaml(self, name: str, credentials: dict) -> Path:
        path = self.workdir / f"{name}.yaml"
        mapping = clouds_yaml(CLOUD, f"{self.url}/identity/v3", credentials,
                              self.description["region"])
        path.write_text(yaml.safe_dump(mapping))
        return path


@contextmanager
def running_cloud_api(description: dict, workdir: Path) -> Iterator[Api]:
    """Serve description until the block ends; then stop the server and keep its stderr."""
    credentials = {"username": "admin", "password": secrets.token_urlsafe(24),
                   "project_name": "admin", "user_domain_name": "Default",
                   "project_domain_name": "Default"}
    (workdir / "description.json").write_text(json.dumps(description))
    (workdir / "credentials.json").write_text(json.dumps(credentials))
    url = f"http://127.0.0.1:{free_loopback_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "calipso_core.lab.cloud_api",
         "--description", str(workdir / "description.json"),
         "--credentials", str(workdir / "credentials.json"), "--listen", url[len("http://"):]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"{url}/identity/v3", timeout=1):
                break
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the API did not start: {proc.communicate()}") from exc
            time.sleep(0.05)
    api = Api(url, description, credentials, workdir)
    try:
        yield api
    finally:
        proc.send_signal(signal.SIGTERM)
        _, api.stderr = proc.communicate(timeout=10)
        api.returncode = proc.returncode


@contextmanager
def configured_cloud(description: dict, workdir: Path) -> Iterator[str]:
    """The API serving description, named CLOUD in a clouds.yaml that OS_CLIENT_CONFIG_FILE
    points openstacksdk at until the block ends; yields CLOUD."""
    with running_cloud_api(description, workdir) as api, pytest.MonkeyPatch.context() as patch:
        patch.setenv("OS_CLIENT_CONFIG_FILE", str(api.write_clouds_yaml("c", api.credentials)))
        yield CLOUD
