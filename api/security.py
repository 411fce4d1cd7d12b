"""Who is calling and what they may do: the contract between authentication (LDAP login and API
tokens, `calipso_api.auth`), the routes (`calipso_api.resources`) and the scans.

Roles are per environment and ordered: a viewer reads; an operator also starts scans and
acknowledges messages; an admin also edits clique and link types and environments. A role given
for the environment "*" holds in every environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

ROLES: Final = ("viewer", "operator", "admin")
ANY_ENVIRONMENT: Final = "*"


@dataclass(frozen=True)
class Principal:
    """An authenticated user and their role per environment."""

    user: str
    roles: Mapping[str, str] = field(default_factory=dict)

    def role_in(self, environment: str) -> str | None:
        """The strongest role the user holds in the environment, if any."""
        held = [r for env, r in self.roles.items() if env in (environment, ANY_ENVIRONMENT)
                and r in ROLES]
        return max(held, key=ROLES.index) if held else None

    def allows(self, environment: str, needed: str) -> bool:
        role = self.role_in(environment)
        return role is not None and ROLES.index(role) >= ROLES.index(needed)

    def environments(self, known: list[str]) -> list[str]:
        """Of the known environments, those the user holds any role in."""
        return [env for env in known if self.role_in(env) is not None]


class LoginFailed(Exception):
    """Wrong credentials, or a user no group maps to any role: the same answer for both, so a
    caller cannot tell which users exist."""


class DirectoryUnavailable(Exception):
    """The directory (LDAP) could not be reached or refused the service account."""


class Authenticator(Protocol):
    """Checks a user's password and finds their roles (LDAP: `calipso_api.auth.ldap`)."""

    def authenticate(self, username: str, password: str) -> Principal:
        """The principal, or LoginFailed / DirectoryUnavailable."""
        ...


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, to the client that logged in; only its hash is stored
    token_id: str  # the stored record's id, for listing and revoking
    expires: str  # ISO 8601 UTC


class TokenService(Protocol):
    """API tokens issued at login (`calipso_api.auth.tokens`): stored hashed, expiring,
    revocable."""

    def issue(self, principal: Principal) -> IssuedToken: ...

    def verify(self, token: str) -> Principal | None:
        """The token's principal, or None when unknown, expired or revoked."""
        ...

    def revoke(self, token: str) -> bool:
        """Revoke the presented token; False when it was not valid."""
        ...
