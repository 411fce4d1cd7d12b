"""LDAP login through ldap3: the `Authenticator` of `calipso_api.security`.

Two ways to find the user, as directories differ:
- `search` (the usual one): bind as a service account, search `user_base` with `user_filter`
  (the username escaped as a filter value, RFC 4515), then bind as the one entry found with the
  user's password;
- `direct`: bind straight as `user_dn_template` with the username escaped as an RDN value
  (RFC 4514), then read the user's entry as the user.

Roles come from groups, found either from the user's `memberOf` (OpenLDAP's memberof overlay,
Active Directory) or by searching `group_base` for the groups whose `member` holds the user's DN
(any directory). `group_roles` maps group DNs (compared case-insensitively, normalised) to
{environment or "*": role}; over all the user's groups the strongest role per environment wins.
A user no mapped group covers cannot log in, and gets the same answer as a wrong password.

Connections: a fresh one per login (tried on each URL in order until one answers), unbound at
the end of the login. Logins are rare next to requests (the API hands out tokens at login), so
a TCP and TLS handshake per login costs little, and nothing is shared between threads: no pool
whose connections a directory restart or an idle timeout would leave dead, no bound identity to
reset between users.

Passwords are never logged and never put in an exception's message.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import string
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields
from typing import Any, Final
from urllib.parse import urlsplit

from ldap3 import BASE, NO_ATTRIBUTES, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import (
    LDAPCertificateError,
    LDAPCommunicationError,
    LDAPException,
    LDAPInvalidDnError,
    LDAPResponseTimeoutError,
    LDAPStartTLSError,
)
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from calipso_api.security import ROLES, DirectoryUnavailable, LoginFailed, Principal

log = logging.getLogger(__name__)

LOGIN_FAILED: Final = "invalid username or password"
"""The one message of every LoginFailed, whatever the reason: callers cannot tell which users
exist or what groups they are in."""
MAX_USERNAME: Final = 256
DEFAULT_USER_FILTER: Final = "(&(objectClass=inetOrgPerson)(uid={username}))"
DEFAULT_GROUP_FILTER: Final = "(&(objectClass=groupOfNames)(member={user_dn}))"
BIND_MODES: Final = ("search", "direct")
GROUP_SOURCES: Final = ("member", "memberOf")
VALIDATE: Final = {"required": ssl.CERT_REQUIRED, "none": ssl.CERT_NONE}


class _DirectoryFailed(Exception):
    """The directory answered, but not as a working directory does (busy, service account
    refused, a configured base missing): DirectoryUnavailable for the caller."""


# Failures of the transport (refused, reset, timed out, TLS handshake or certificate) and of the
# directory: DirectoryUnavailable. Other ldap3 exceptions are bugs and propagate as they are.
_UNREACHABLE: Final = (_DirectoryFailed, LDAPCommunicationError, LDAPResponseTimeoutError,
                       LDAPStartTLSError, LDAPCertificateError)
# Bind results that say the server cannot serve now, rather than anything about the user.
_SERVER_BUSY: Final = ("busy", "unavailable")
_ATTRIBUTE_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_DN_ESCAPE: Final = re.compile(r"\\([0-9A-Fa-f]{2})|\\(.)", re.DOTALL)
_WRAPPING: Final = re.compile(r"""^\((['"])(.*)\1,\)$""", re.DOTALL)


class LdapSettingsError(ValueError):
    """LDAP settings that cannot work; the message names the key."""


def normalise_dn(dn: str) -> str:
    """A DN in one spelling: attribute types and values lower-cased, escapes decoded and made
    again one way (`\\2C` and `\\,` are the same character), spaces around separators dropped,
    the values of a multi-valued RDN sorted. Good for the attributes group DNs are made of (cn,
    ou, dc, o: compared case-insensitively by LDAP); attribute aliases (`commonName` for `cn`)
    are not resolved."""
    rdns, values = [], []
    for attribute, value, separator in parse_dn(dn, strip=True):
        values.append(f"{attribute.lower()}={escape_rdn(_unescape_dn_value(value).lower())}")
        if separator != "+":
            rdns.append("+".join(sorted(values)))
            values = []
    return ",".join(rdns)


def _unescape_dn_value(value: str) -> str:
    """An RFC 4514 attribute value without its escapes (`\\XX` are UTF-8 bytes)."""
    raw = bytearray()
    end = 0
    for match in _DN_ESCAPE.finditer(value):
        raw += value[end:match.start()].encode()
        raw += bytes.fromhex(match[1]) if match[1] else match[2].encode()
        end = match.end()
    raw += value[end:].encode()
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise LDAPInvalidDnError(f"escapes in {value!r} are not UTF-8") from exc


def _placeholders(template: str) -> set[str]:
    """The replacement fields of a template; a conversion or format spec (`{username!r}`) would
    change the escaped value, so it counts as a placeholder of its own and is refused."""
    return {name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None}


def _check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    if value not in choices:
        raise LdapSettingsError(f"ldap: {name} must be one of {', '.join(choices)}, got "
                                f"{value!r}")


@dataclass(frozen=True)
class LdapSettings:
    """How to reach the directory, find users and map their groups to roles. Checked when made
    (`LdapSettingsError`); `from_mapping` reads them from the configuration file's section."""

    urls: tuple[str, ...]
    group_roles: Mapping[str, Mapping[str, str]]
    bind: str = "search"
    bind_dn: str | None = None  # search: the service account
    bind_password: str | None = field(default=None, repr=False)
    user_base: str | None = None  # search: where users are
    user_filter: str = DEFAULT_USER_FILTER  # search: {username} is the escaped username
    user_dn_template: str | None = None  # direct: {username} is the username escaped as an RDN
    username_attribute: str = "uid"  # the user's name as the directory spells it
    groups_from: str = "member"  # "member": search group_base; "memberOf": the user's attribute
    group_base: str | None = None
    group_filter: str = DEFAULT_GROUP_FILTER  # {user_dn} and {username}, escaped
    start_tls: bool = False
    ca_file: str | None = None  # CA certificates (PEM) to trust; else the system's
    validate: str = "required"  # the server's certificate (and name): "required" or "none"
    connect_timeout: float = 5.0
    receive_timeout: int = 10  # whole seconds: ldap3 sets the socket's SO_RCVTIMEO in seconds

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any],
                     environ: Mapping[str, str] | None = None) -> LdapSettings:
        """Settings from a configuration mapping: the fields above, with `url` (one URL) or
        `urls` (a list), and the service account's password either as `bind_password` or, to
        keep it out of the file, `bind_password_env` (the name of an environment variable)."""
        environ = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)} | {"url", "bind_password_env"}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise LdapSettingsError(f"ldap: unknown key{'s' if len(unknown) > 1 else ''} "
                                    f"{', '.join(map(repr, unknown))}; known keys: "
                                    f"{', '.join(sorted(known))}")
        values = dict(mapping)
        if "group_roles" not in values:
            raise LdapSettingsError("ldap: group_roles is missing: it maps group DNs to "
                                    "{environment or \"*\": role}, and without it nobody can "
                                    "log in")
        if ("url" in values) == ("urls" in values):
            raise LdapSettingsError("ldap: give either url (one URL) or urls (a list)")
        urls = values.pop("url") if "url" in values else values.pop("urls")
        values["urls"] = (urls,) if isinstance(urls, str) else urls
        if "bind_password_env" in values:
            if "bind_password" in values:
                raise LdapSettingsError("ldap: give bind_password or bind_password_env, not both")
            variable = values.pop("bind_password_env")
            if not isinstance(variable, str) or variable not in environ:
                raise LdapSettingsError(f"ldap: bind_password_env: environment variable "
                                        f"{variable!r} is not set")
            values["bind_password"] = environ[variable]
        return cls(**values)

    def __post_init__(self) -> None:
        self._check_types()
        # Frozen: the normalised forms are set once, here.
        object.__setattr__(self, "urls", tuple(self.urls))
        object.__setattr__(self, "group_roles", self._normalised_group_roles())
        schemes = {self._check_url(url) for url in self.urls}
        self._check_tls(schemes)
        self._check_bind()
        self._check_groups()
        if self.connect_timeout <= 0 or self.receive_timeout <= 0:
            raise LdapSettingsError("ldap: connect_timeout and receive_timeout must be > 0")

    @property
    def uses_tls(self) -> bool:
        return self.start_tls or any(url.lower().startswith("ldaps://") for url in self.urls)

    def _check_types(self) -> None:
        expected: dict[str, tuple[type, ...]] = {
            "bind": (str,), "user_filter": (str,), "username_attribute": (str,),
            "groups_from": (str,), "group_filter": (str,), "validate": (str,),
            "start_tls": (bool,), "connect_timeout": (int, float), "receive_timeout": (int,),
            "bind_dn": (str, type(None)), "bind_password": (str, type(None)),
            "user_base": (str, type(None)), "user_dn_template": (str, type(None)),
            "group_base": (str, type(None)), "ca_file": (str, type(None)),
            "urls": (tuple, list), "group_roles": (Mapping,)}
        for name, types in expected.items():
            value = getattr(self, name)
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise LdapSettingsError(f"ldap: {name} must be "
                                        f"{' or '.join(t.__name__ for t in types)}, "
                                        f"got {type(value).__name__}")
        if not self.urls or not all(isinstance(url, str) for url in self.urls):
            raise LdapSettingsError("ldap: urls must be a non-empty list of ldap:// or ldaps://"
                                    " URLs")

    @staticmethod
    def _check_url(url: str) -> str:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError as exc:
            raise LdapSettingsError(f"ldap: bad port in URL {url!r}") from exc
        scheme = parts.scheme.lower()
        if (scheme not in ("ldap", "ldaps") or not parts.hostname or parts.path not in ("", "/")
                or parts.query or parts.fragment or "@" in parts.netloc or port == 0):
            raise LdapSettingsError(f"ldap: URL {url!r} is not ldap://host[:port] or "
                                    "ldaps://host[:port] (base DNs and credentials go in their"
                                    " own settings)")
        return scheme

    def _check_tls(self, schemes: set[str]) -> None:
        _check_choice("validate", self.validate, VALIDATE)
        if self.start_tls and "ldaps" in schemes:
            raise LdapSettingsError("ldap: start_tls upgrades ldap:// connections; an ldaps://"
                                    " URL is TLS from the start: use one or the other")
        if self.ca_file is not None:
            if not self.uses_tls:
                raise LdapSettingsError("ldap: ca_file is set but no connection uses TLS: use"
                                        " ldaps:// URLs or start_tls: true")
            if not os.path.isfile(self.ca_file) or not os.access(self.ca_file, os.R_OK):
                raise LdapSettingsError(f"ldap: ca_file {self.ca_file!r} is not a readable "
                                        "file")

    def _check_bind(self) -> None:
        _check_choice("bind", self.bind, BIND_MODES)
        search = {"bind_dn": self.bind_dn, "bind_password": self.bind_password,
                  "user_base": self.user_base}
        if self.bind == "search":
            missing = [name for name, value in search.items() if not value]
            if missing:
                raise LdapSettingsError(f"ldap: bind search needs {', '.join(missing)}")
            if self.user_dn_template is not None:
                raise LdapSettingsError("ldap: user_dn_template is for bind: direct")
            self._check_template("user_filter", self.user_filter, {"username"})
            self._check_dns(bind_dn=self.bind_dn, user_base=self.user_base)
        else:
            extra = [name for name, value in search.items() if value is not None]
            if extra:
                raise LdapSettingsError(f"ldap: bind direct uses no {', '.join(extra)} (the "
                                        "user binds as user_dn_template and reads as the user)")
            if not self.user_dn_template:
                raise LdapSettingsError("ldap: bind direct needs user_dn_template, e.g. "
                                        "uid={username},ou=people,dc=example,dc=org")
            self._check_template("user_dn_template", self.user_dn_template, {"username"})
            self._check_dns(user_dn_template=self.user_dn_template.format(username="x"))
        if not _ATTRIBUTE_NAME.match(self.username_attribute):
            raise LdapSettingsError(f"ldap: username_attribute {self.username_attribute!r} is "
                                    "not an attribute name")

    def _check_groups(self) -> None:
        _check_choice("groups_from", self.groups_from, GROUP_SOURCES)
        if self.groups_from == "member":
            if not self.group_base:
                raise LdapSettingsError("ldap: groups_from member needs group_base")
            self._check_dns(group_base=self.group_base)
            self._check_template("group_filter", self.group_filter, {"user_dn"},
                                 allowed={"user_dn", "username"})
        elif self.group_base is not None:
            raise LdapSettingsError("ldap: group_base is for groups_from: member (memberOf "
                                    "is read from the user's entry)")

    @staticmethod
    def _check_template(name: str, template: str, needed: set[str],
                        allowed: set[str] | None = None) -> None:
        try:
            found = _placeholders(template)
        except ValueError as exc:
            raise LdapSettingsError(f"ldap: {name}: {exc}") from exc
        allowed = needed if allowed is None else allowed
        if not needed <= found or not found <= allowed:
            raise LdapSettingsError(f"ldap: {name} must hold {{{'}, {'.join(sorted(needed))}}}"
                                    f" and no other placeholder, got {template!r}")
        if name.endswith("filter") and not (template.startswith("(") and template.endswith(")")):
            raise LdapSettingsError(f"ldap: {name} must be a parenthesised LDAP filter, got "
                                    f"{template!r}")

    @staticmethod
    def _check_dns(**dns: str | None) -> None:
        for name, dn in dns.items():
            try:
                parse_dn(dn or "")
            except LDAPInvalidDnError as exc:
                raise LdapSettingsError(f"ldap: {name} {dn!r} is not a DN: {exc}") from exc

    def _normalised_group_roles(self) -> dict[str, dict[str, str]]:
        if not self.group_roles:
            raise LdapSettingsError("ldap: group_roles maps no group: nobody could log in")
        normalised: dict[str, dict[str, str]] = {}
        for dn, roles in self.group_roles.items():
            try:
                key = normalise_dn(dn)
            except LDAPInvalidDnError as exc:
                raise LdapSettingsError(f"ldap: group_roles: {dn!r} is not a DN: {exc}") from exc
            if key in normalised:
                raise LdapSettingsError(f"ldap: group_roles: {dn!r} is given twice")
            if not isinstance(roles, Mapping) or not roles:
                raise LdapSettingsError(f"ldap: group_roles: {dn!r} must map environments (or "
                                        "\"*\") to roles")
            for environment, role in roles.items():
                if not isinstance(environment, str) or not environment or role not in ROLES:
                    raise LdapSettingsError(
                        f"ldap: group_roles: {dn!r}: {environment!r}: {role!r} is not "
                        f"environment: role, with role one of {', '.join(ROLES)}")
            normalised[key] = dict(roles)
        return normalised


@dataclass(frozen=True)
class _User:
    dn: str
    name: str
    groups: frozenset[str]  # normalised DNs


def _refused(username: object, password: object) -> str | None:
    """Why the credentials are refused before the directory is asked, or None. An empty password
    would make a simple bind "unauthenticated" (RFC 4513 5.1.2), which many servers accept as
    an anonymous success."""
    if not isinstance(username, str) or not isinstance(password, str):
        return "username and password must be text"
    if not username or not password:
        return "empty username or password"
    if len(username) > MAX_USERNAME:
        return f"username longer than {MAX_USERNAME} characters"
    if not username.isprintable():
        return "control or unprintable characters in the username"
    try:
        username.encode()
        password.encode()
    except UnicodeEncodeError:
        return "username or password is not valid Unicode"
    return None


def _reason(exc: Exception) -> str:
    """An exception's message without the tuple reprs ldap3 wraps some in (`("('...',)",)`)."""
    reason = str(exc)
    while match := _WRAPPING.match(reason):
        reason = match[2]
    return reason or type(exc).__name__


def _close(connection: Connection) -> None:
    """Unbind, if the connection still can: closing a broken one must not hide why it broke."""
    with suppress(LDAPException):
        connection.unbind()


class LdapAuthenticator:
    """`Authenticator` against an LDAP directory (see the module doc). Thread-safe: no state
    but the settings."""

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self._tls = (Tls(validate=VALIDATE[settings.validate], ca_certs_file=settings.ca_file)
                     if settings.uses_tls else None)
        if settings.uses_tls and settings.validate == "none":
            log.warning("LDAP over TLS without checking the server's certificate: anyone on the"
                        " path can pose as the directory and read the passwords")

    def authenticate(self, username: str, password: str) -> Principal:
        why = _refused(username, password)
        if why:
            log.info("login refused without asking the directory: %s", why)
            raise LoginFailed(LOGIN_FAILED)
        try:
            user = (self._search_then_bind(username, password) if self.settings.bind == "search"
                    else self._direct_bind(username, password))
        except _UNREACHABLE as exc:
            raise self._unavailable(exc, password) from None
        roles = self._roles(user.groups)
        if not roles:
            log.info("login refused for %r: in no group that group_roles maps", user.name)
            raise LoginFailed(LOGIN_FAILED)
        log.info("login of %r (%s) with roles %s", user.name, user.dn, roles)
        return Principal(user.name, roles)

    def _unavailable(self, exc: Exception, password: str) -> DirectoryUnavailable:
        # Not chained, and scrubbed: an exception from below may quote what was sent.
        reason = _reason(exc)
        for secret in (password, self.settings.bind_password):
            if secret:
                reason = reason.replace(secret, "***")
        log.warning("LDAP directory unavailable: %s", reason)
        return DirectoryUnavailable(f"LDAP directory unavailable ({', '.join(self.settings.urls)})"
                                    f": {reason}")

    @contextmanager
    def _connection(self, dn: str, password: str) -> Iterator[Connection]:
        """An open connection (TLS started where configured, not bound yet) to the first URL
        that answers; unbound when the block ends."""
        failures = []
        for url in self.settings.urls:
            parts = urlsplit(url)
            server = Server(parts.hostname, port=parts.port, use_ssl=parts.scheme == "ldaps",
                            tls=self._tls, get_info=NONE,
                            connect_timeout=self.settings.connect_timeout)
            # Referrals are not followed: they could send the user's password elsewhere.
            connection = Connection(server, user=dn, password=password, read_only=True,
                                    auto_referrals=False, raise_exceptions=False,
                                    receive_timeout=self.settings.receive_timeout)
            try:
                connection.open()
                # Never a bind in clear when TLS was asked for.
                if self.settings.start_tls and not connection.start_tls():
                    raise _DirectoryFailed("StartTLS did not start")
            except _UNREACHABLE as exc:
                failures.append(f"{url}: {_reason(exc)}")
                _close(connection)
                continue
            try:
                yield connection
            finally:
                _close(connection)
            return
        raise _DirectoryFailed("; ".join(failures))

    def _bind_user(self, connection: Connection, username: str) -> None:
        if connection.bind():
            return
        result = connection.result or {}
        if result.get("description") in _SERVER_BUSY:
            raise _DirectoryFailed(f"the directory answered {result['description']}")
        log.info("login refused for %r: bind answered %s", username, result.get("description"))
        raise LoginFailed(LOGIN_FAILED)

    def _search_then_bind(self, username: str, password: str) -> _User:
        settings = self.settings
        assert settings.bind_dn and settings.bind_password and settings.user_base
        with self._connection(settings.bind_dn, settings.bind_password) as service:
            if not service.bind():
                # Also when the service account's password is wrong: not the user's fault.
                raise _DirectoryFailed(
                    f"the directory refused the service account {settings.bind_dn}: "
                    f"{(service.result or {}).get('description')}")
            found = self._search(service, settings.user_base, SUBTREE, settings.user_filter
                                 .format(username=escape_filter_chars(username)), size_limit=2)
            if len(found) != 1:
                if found:
                    log.warning("login refused for %r: %d entries match user_filter",
                                username, len(found))
                else:
                    log.info("login refused for %r: no such user", username)
                raise LoginFailed(LOGIN_FAILED)
            dn, attributes = found[0]
            with self._connection(dn, password) as user:
                self._bind_user(user, username)
            # Groups are read as the service account: users may not read groups themselves.
            return self._user(service, dn, attributes, username)

    def _direct_bind(self, username: str, password: str) -> _User:
        assert self.settings.user_dn_template
        dn = self.settings.user_dn_template.format(username=escape_rdn(username))
        with self._connection(dn, password) as user:
            self._bind_user(user, username)
            found = self._search(user, dn, BASE, "(objectClass=*)")
            if not found:
                log.warning("login refused for %r: bound but cannot read its own entry %s",
                            username, dn)
                raise LoginFailed(LOGIN_FAILED)
            return self._user(user, *found[0], username)

    def _search(self, connection: Connection, base: str, scope: str, search_filter: str,
                attributes: list[str] | None = None,
                size_limit: int = 0) -> list[tuple[str, dict[str, Any]]]:
        """(DN, attributes) of the entries found (referrals dropped). Anything but success (or
        the size limit hit, when the caller set one) is the directory failing: a missing base
        is a configuration to fix, not a user to refuse."""
        if attributes is None:
            attributes = [self.settings.username_attribute, "memberOf"]
        connection.search(base, search_filter, scope, attributes=attributes,
                          size_limit=size_limit)
        description = (connection.result or {}).get("description")
        if description != "success" and not (size_limit and description == "sizeLimitExceeded"):
            raise _DirectoryFailed(f"search under {base} answered {description}")
        return [(entry["dn"], entry.get("attributes", {})) for entry in connection.response or []
                if entry.get("type") == "searchResEntry"]

    def _user(self, connection: Connection, dn: str, attributes: Mapping[str, Any],
              username: str) -> _User:
        """The user as the directory has it: its name as spelled there (so tokens and logs name
        one user one way, whatever case it logged in with), and its groups."""
        names = attributes.get(self.settings.username_attribute) or []
        names = [names] if isinstance(names, str) else list(names)
        # Of several values (uid is multi-valued), the one the user typed, in the directory's case.
        name = next((n for n in names if n.casefold() == username.casefold()),
                    names[0] if names else username)
        if self.settings.groups_from == "memberOf":
            groups = attributes.get("memberOf") or []
            groups = [groups] if isinstance(groups, str) else list(groups)
        else:
            assert self.settings.group_base
            found = self._search(connection, self.settings.group_base, SUBTREE,
                                 self.settings.group_filter.format(
                                     user_dn=escape_filter_chars(dn),
                                     username=escape_filter_chars(username)), [NO_ATTRIBUTES])
            groups = [group_dn for group_dn, _ in found]
        normalised = set()
        for group in groups:
            try:
                normalised.add(normalise_dn(group))
            except LDAPInvalidDnError:
                log.warning("group DN %r of %s cannot be parsed; ignored", group, dn)
        return _User(dn, name, frozenset(normalised))

    def _roles(self, groups: frozenset[str]) -> dict[str, str]:
        """The strongest role per environment over the user's mapped groups."""
        roles: dict[str, str] = {}
        for group in sorted(groups & self.settings.group_roles.keys()):
            for environment, role in self.settings.group_roles[group].items():
                held = roles.get(environment)
                if held is None or ROLES.index(role) > ROLES.index(held):
                    roles[environment] = role
        return roles
