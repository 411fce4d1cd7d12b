"""Who is calling and what they may do: the bearer-token check every route but the public ones
passes, and the role check of environment-scoped routes.

Tokens are verified by the injected `TokenService` (`calipso_api.security`), so this module knows
nothing of how they are stored. Environment names are not secret from those who hold a role in
them, but are from everyone else: an environment the caller holds no role in answers exactly as
one that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import falcon

from calipso_api.errors import forbidden, not_found, unauthorized
from calipso_api.security import Principal, TokenService
from calipso_core.store import MongoStore

# RFC 6750's b64token, bounded: anything else cannot be a token we issued, so it is not looked up.
TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]{1,512}=*")


def bearer_token(req: falcon.Request) -> str:
    """The token of an `Authorization: Bearer <token>` header, or a 401 problem."""
    header = req.get_header("Authorization")
    if not header:
        raise unauthorized("this route needs an Authorization: Bearer <token> header")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not TOKEN.fullmatch(token):
        raise unauthorized("the Authorization header is not a bearer token")
    return token


class Authentication:
    """Falcon middleware: every resource needs a valid token unless it declares
    `auth_required = False`; the caller's principal and token go to `req.context`."""

    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         params: dict[str, Any]) -> None:
        if resource is not None and not getattr(resource, "auth_required", True):
            return
        token = bearer_token(req)
        principal = self._tokens.verify(token)
        if principal is None:
            raise unauthorized("the token is invalid, expired or revoked")
        req.context.principal = principal
        req.context.token = token


def principal_of(req: falcon.Request) -> Principal:
    principal: Principal = req.context.principal
    return principal


def require_role(req: falcon.Request, store: MongoStore, environment: str,
                 needed: str = "viewer",
                 also_known: Callable[[str], bool] = lambda _environment: False) -> Principal:
    """The caller's principal if they hold `needed` in an environment the store knows (or that
    `also_known` accepts: the scan routes count the environments configured for scans).

    404 when the caller holds no role there or it does not exist (the same answer, so names do
    not leak); 403 when they hold a weaker role than needed."""
    principal = principal_of(req)
    if principal.role_in(environment) is None or not (
            also_known(environment) or environment in store.environments()):
        raise not_found(f"environment {environment!r} not found")
    if not principal.allows(environment, needed):
        raise forbidden(f"this needs the {needed} role in environment {environment!r}")
    return principal
