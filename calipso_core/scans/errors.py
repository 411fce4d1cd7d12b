"""Why a scan or a schedule was refused: one class per answer the API gives, each with a stable
`code` for its problem documents. The classes that are the caller's mistake are ValueErrors."""

from __future__ import annotations

from typing import ClassVar


class ScanError(Exception):
    """Anything scans and schedules refuse to do."""

    code: ClassVar[str] = "scan_error"


class InvalidRequest(ScanError, ValueError):
    """The request itself is wrong (400)."""

    code = "invalid_request"


class UnknownEnvironment(InvalidRequest):
    """No environment of that name is configured for scans (404)."""

    code = "unknown_environment"


class UnknownHosts(InvalidRequest):
    """Hosts that the environment's Ansible inventory does not define (400)."""

    code = "unknown_hosts"


class UnknownFocalObject(InvalidRequest):
    """The focal object is not in the environment's committed inventory (404)."""

    code = "unknown_focal_object"


class InvalidSchedule(InvalidRequest):
    """A recurrence rule that cannot be read, never occurs, or occurs too often (400)."""

    code = "invalid_schedule"


class EnvironmentBusy(ScanError):
    """A scan of the environment is queued or running already (409): retry when it ends."""

    code = "environment_busy"


class ScansPaused(ScanError):
    """An admin paused the environment's scans (409): resume them, or wait until they do."""

    code = "scans_paused"


class EnvironmentUnavailable(ScanError):
    """The environment's Ansible inventory cannot be read: the service's configuration is
    wrong, not the request (503)."""

    code = "environment_unavailable"
