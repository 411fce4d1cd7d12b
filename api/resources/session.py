"""Login and logout: a password checked by the injected Authenticator (LDAP) becomes an API token
from the injected TokenService; logout revokes the token presented. The token is in the login
answer only, and neither the password nor the directory's own words ever reach a response."""

from __future__ import annotations

import logging

import falcon

from calipso_api.bodies import documented_body
from calipso_api.errors import Problem
from calipso_api.query import parse_query
from calipso_api.security import Authenticator, DirectoryUnavailable, LoginFailed, TokenService

log = logging.getLogger(__name__)

class Login:
    """POST /auth/login."""

    auth_required = False

    def __init__(self, authenticator: Authenticator, tokens: TokenService,
                 max_body_bytes: int) -> None:
        self._authenticator = authenticator
        self._tokens = tokens
        self._max_body_bytes = max_body_bytes

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        parse_query(req, ())
        # LoginRequest refuses an empty password too: to LDAP, that is an anonymous bind, which
        # "succeeds".
        credentials = documented_body(req, self._max_body_bytes, "LoginRequest")
        try:
            principal = self._authenticator.authenticate(credentials["username"],
                                                         credentials["password"])
        except LoginFailed:
            log.info("login failed for %r", credentials["username"])
            raise Problem(401, "login_failed", "wrong username or password",
                          {"WWW-Authenticate": "Bearer"}) from None
        except DirectoryUnavailable as exc:
            log.warning("login: the directory is unavailable: %s", exc)
            raise Problem(503, "directory_unavailable",
                          "the user directory cannot be reached; retry later") from None
        issued = self._tokens.issue(principal)
        resp.status = 201
        resp.media = {"token": issued.token, "token_id": issued.token_id,
                      "expires": issued.expires, "user": principal.user,
                      "roles": dict(principal.roles)}


class Logout:
    """POST /auth/logout: revokes the token the request carries."""

    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        parse_query(req, ())
        self._tokens.revoke(req.context.token)
        resp.status = 204
