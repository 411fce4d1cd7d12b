"""LDAP login against a real slapd (tests/slapd.py): both bind modes and both ways of finding
groups log the right users in with the right roles; every refusal looks the same; injection
attempts log nobody in; an unavailable directory is DirectoryUnavailable without a password in
sight; TLS (ldaps and StartTLS) for real, with a test CA; settings errors are clear."""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from ldap3 import Connection, Server

from calipso_api.auth import ldap as ldap_module
from calipso_api.auth.ldap import (
    LOGIN_FAILED,
    LdapAuthenticator,
    LdapSettings,
    LdapSettingsError,
    normalise_dn,
)
from calipso_api.security import DirectoryUnavailable, LoginFailed, Principal
from tests.cloud_server import free_loopback_port
from tests.slapd import Slapd, User, ldap_settings, running_slapd, seed_users

pytest_plugins = ["tests.slapd"]

MODES = [("search", "member"), ("search", "memberOf"), ("direct", "member"),
         ("direct", "memberOf")]
MODE_IDS = [f"{bind}-{groups}" for bind, groups in MODES]
EXPECTED = {
    "admin": {"lab": "admin", "*": "viewer"},
    # lab-operators and lab-viewers both map lab: the stronger role wins
    "operator": {"lab": "operator", "*": "viewer"},
    "viewer": {"*": "viewer"},
    "o'brien*(x)": {"lab": "viewer"},
    "a,b=c+d": {"lab": "viewer"},
}
INJECTIONS = ["*", "admin)(uid=*", "*)(|(uid=*", "admin)(|(uid=*)", "*)(uid=*))(|(uid=*",
              "admin\\00", "\\2a", "\\61dmin", "uid=admin,ou=people",
              "admin,ou=people,dc=calipso,dc=test", "admin+cn=admin", "#admin", " admin\\",
              "o'brien*", "a,b=c+*", "*(x)"]


@pytest.fixture
def lone_slapd(tmp_path: Path) -> Iterator[tuple[Slapd, dict[str, User]]]:
    """A slapd for one test, which the test may pause or stop."""
    with running_slapd(tmp_path) as server:
        yield server, seed_users(server)


def authenticator(slapd: Slapd, bind: str = "search", groups_from: str = "member",
                  **overrides: object) -> LdapAuthenticator:
    return LdapAuthenticator(LdapSettings.from_mapping(
        ldap_settings(slapd, bind, groups_from, **overrides)))


@pytest.fixture(params=MODES, ids=MODE_IDS)
def auth(request: pytest.FixtureRequest, slapd: Slapd, ldap_users: dict[str, User]
         ) -> LdapAuthenticator:
    return authenticator(slapd, *request.param)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection the authenticator would open fails the test."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the directory was asked")
    monkeypatch.setattr(ldap_module, "Connection", refuse)


def refused(auth: LdapAuthenticator, username: str, password: str) -> str:
    with pytest.raises(LoginFailed) as caught:
        auth.authenticate(username, password)
    return str(caught.value)


# -- who logs in, with which roles ------------------------------------------------------------

def test_users_log_in_with_the_roles_of_their_groups(auth: LdapAuthenticator,
                                                     ldap_users: dict[str, User]) -> None:
    for name, roles in EXPECTED.items():
        assert auth.authenticate(name, ldap_users[name].password) == Principal(name, roles)


def test_roles_per_environment(auth: LdapAuthenticator, ldap_users: dict[str, User]) -> None:
    admin = auth.authenticate("admin", ldap_users["admin"].password)
    assert admin.role_in("lab") == "admin"
    assert admin.role_in("prod") == "viewer"  # through "*"
    operator = auth.authenticate("operator", ldap_users["operator"].password)
    assert operator.allows("lab", "operator") and not operator.allows("lab", "admin")
    special = auth.authenticate("o'brien*(x)", ldap_users["o'brien*(x)"].password)
    assert special.role_in("prod") is None


def test_the_name_is_the_directory_s(auth: LdapAuthenticator, ldap_users: dict[str, User]) -> None:
    """LDAP matches uid case-insensitively: one user gets one name, whatever case they typed."""
    assert auth.authenticate("ADMIN", ldap_users["admin"].password).user == "admin"


def test_group_dns_compare_normalised(slapd: Slapd, ldap_users: dict[str, User]) -> None:
    spelled = {"cn=LAB-ADMINS ,ou=groups, DC=calipso,dc=TEST": {"lab": "admin"},
               "CN=lab\\2Doperators,OU=Groups,DC=Calipso,DC=Test": {"lab": "operator"}}
    auth = authenticator(slapd, group_roles=spelled)
    assert auth.authenticate("admin", ldap_users["admin"].password).roles == {"lab": "admin"}
    assert auth.authenticate("operator", ldap_users["operator"].password).roles == {
        "lab": "operator"}


def test_normalise_dn() -> None:
    assert normalise_dn("CN=Lab Admins , OU=Groups,DC=x") == "cn=lab admins,ou=groups,dc=x"
    assert normalise_dn("uid=a\\2Cb\\3dc,dc=x") == normalise_dn("UID=a\\,b\\=c,dc=x")
    assert normalise_dn("cn=x+sn=y,dc=z") == normalise_dn("sn=Y+CN=X,dc=z")
    assert normalise_dn("cn=caf\\C3\\A9,dc=x") == "cn=café,dc=x"
    assert normalise_dn("cn=a,dc=x") != normalise_dn("cn=a,dc=y")


# -- refusals -----------------------------------------------------------------------------------

def test_every_refusal_looks_the_same(auth: LdapAuthenticator, slapd: Slapd,
                                      ldap_users: dict[str, User]) -> None:
    # nogroup's password is right (the directory takes it): only its groups keep it out
    proof = Connection(Server(slapd.url), ldap_users["nogroup"].dn, ldap_users["nogroup"].password)
    assert proof.bind()
    proof.unbind()
    messages = {
        refused(auth, "admin", ldap_users["viewer"].password),  # wrong password
        refused(auth, "admin", ldap_users["admin"].password + "x"),
        refused(auth, "ghost", ldap_users["admin"].password),  # no such user
        refused(auth, "nogroup", ldap_users["nogroup"].password),  # in no mapped group
    }
    assert messages == {LOGIN_FAILED}


def test_empty_password_never_reaches_the_directory(slapd: Slapd, ldap_users: dict[str, User],
                                                    no_network: None) -> None:
    # This slapd, like many servers, takes a DN with an empty password as an anonymous bind
    # and says "success": the authenticator must never send one.
    whoami = subprocess.run(["ldapwhoami", "-x", "-H", slapd.url, "-D", ldap_users["admin"].dn,
                             "-w", ""], capture_output=True, text=True, timeout=10)
    assert whoami.returncode == 0 and whoami.stdout.strip() == "anonymous"
    for bind, groups_from in MODES:
        auth = authenticator(slapd, bind, groups_from)
        assert refused(auth, "admin", "") == LOGIN_FAILED
        assert refused(auth, "", ldap_users["admin"].password) == LOGIN_FAILED


@pytest.mark.parametrize("username", ["a" * 257, "admin\x00", "admin\n", "ad\x7fmin",
                                      "admin\u2028", "admin\ud800"])
def test_unacceptable_usernames_never_reach_the_directory(slapd: Slapd, ldap_users: dict[str, User],
                                                          no_network: None,
                                                          username: str) -> None:
    assert refused(authenticator(slapd), username, ldap_users["admin"].password) == LOGIN_FAILED


@pytest.mark.parametrize("username", INJECTIONS)
def test_injection_attempts_log_nobody_in(auth: LdapAuthenticator, ldap_users: dict[str, User],
                                          username: str) -> None:
    """Filter metacharacters (search) and DN syntax (direct) in the username are data: with any
    user's password, the answer is the ordinary refusal, not a login and not an error."""
    for user in ldap_users.values():
        assert refused(auth, username, user.password) == LOGIN_FAILED


def test_unescaped_the_injections_would_have_matched(slapd: Slapd, ldap_users: dict[str, User]
                                                     ) -> None:
    """The injection tests mean something: put into the filter as they are, `*` and
    `admin)(uid=*` match users in this directory."""
    connection = Connection(Server(slapd.url), slapd.service_dn, slapd.service_password,
                            auto_bind=True)
    for username in ("*", "admin)(uid=*"):
        connection.search(slapd.people_dn, f"(&(objectClass=inetOrgPerson)(uid={username}))")
        assert connection.entries
    connection.unbind()


# -- the directory unavailable ------------------------------------------------------------------

def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


def test_directory_down(lone_slapd: tuple[Slapd, dict[str, User]],
                        caplog: pytest.LogCaptureFixture) -> None:
    server, ldap_users = lone_slapd
    admin = ldap_users["admin"]
    auths = [authenticator(server, *mode) for mode in MODES]
    for auth in auths:
        assert auth.authenticate("admin", admin.password).user == "admin"
    server.stop()
    caplog.set_level(logging.DEBUG)
    for auth in auths:
        with pytest.raises(DirectoryUnavailable) as caught:
            auth.authenticate("admin", admin.password)
        assert server.url in str(caught.value)
        shown = "".join(traceback.format_exception(caught.value))
        assert_no_secret(shown, admin.password, server.service_password)
    assert_no_secret(caplog.text, admin.password, server.service_password)


def test_service_account_refused(slapd: Slapd, ldap_users: dict[str, User],
                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = slapd.service_password + "-old"
    auth = authenticator(slapd, bind_password=wrong)
    with pytest.raises(DirectoryUnavailable, match="refused the service account") as caught:
        auth.authenticate("admin", ldap_users["admin"].password)
    shown = "".join(traceback.format_exception(caught.value)) + caplog.text
    assert_no_secret(shown, ldap_users["admin"].password, wrong, slapd.service_password)


def test_a_directory_that_does_not_answer_times_out(lone_slapd: tuple[Slapd, dict[str, User]]
                                                    ) -> None:
    server, ldap_users = lone_slapd
    auth = authenticator(server, receive_timeout=1)
    server.pause()  # the kernel still accepts connections; nobody answers
    try:
        start = time.monotonic()
        with pytest.raises(DirectoryUnavailable):
            auth.authenticate("admin", ldap_users["admin"].password)
        assert time.monotonic() - start < 5
    finally:
        server.resume()
    # answering again (with the default timeout: a machine under load may be slow to resume)
    assert authenticator(server).authenticate("admin", ldap_users["admin"].password).user == \
        "admin"


def test_the_next_url_serves_when_the_first_is_down(slapd: Slapd, ldap_users: dict[str, User]
                                                    ) -> None:
    dead = f"ldap://127.0.0.1:{free_loopback_port()}"
    auth = authenticator(slapd, urls=[dead, slapd.url])
    assert auth.authenticate("admin", ldap_users["admin"].password).roles == EXPECTED["admin"]
    with pytest.raises(DirectoryUnavailable) as caught:
        authenticator(slapd, urls=[dead]).authenticate("admin", ldap_users["admin"].password)
    assert dead in str(caught.value)


def test_passwords_are_never_logged(auth: LdapAuthenticator, ldap_users: dict[str, User],
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for user in ldap_users.values():
        with contextlib.suppress(LoginFailed):  # nogroup
            auth.authenticate(user.name, user.password)
        with pytest.raises(LoginFailed):
            auth.authenticate(user.name, user.password + "-wrong")
    assert "login of 'admin'" in caplog.text  # the log was captured
    assert_no_secret(caplog.text, *(u.password for u in ldap_users.values()))


# -- TLS ----------------------------------------------------------------------------------------

def test_ldaps_with_the_ca(slapd: Slapd, ldap_users: dict[str, User]) -> None:
    auth = authenticator(slapd, url=slapd.ldaps_url, ca_file=str(slapd.ca_file))
    assert auth.authenticate("admin", ldap_users["admin"].password).roles == EXPECTED["admin"]


def test_start_tls_with_the_ca(slapd: Slapd, ldap_users: dict[str, User]) -> None:
    auth = authenticator(slapd, "direct", "memberOf", start_tls=True,
                         ca_file=str(slapd.ca_file))
    assert auth.authenticate("admin", ldap_users["admin"].password).roles == EXPECTED["admin"]


@pytest.mark.parametrize("tls", ["ldaps", "start_tls"])
def test_an_untrusted_certificate_is_refused(slapd: Slapd, ldap_users: dict[str, User],
                                             tls: str) -> None:
    """Without the test CA (the system's CAs do not know it), the server is not trusted."""
    overrides = {"url": slapd.ldaps_url} if tls == "ldaps" else {"start_tls": True}
    with pytest.raises(DirectoryUnavailable, match="certificate verify failed"):
        authenticator(slapd, **overrides).authenticate("admin", ldap_users["admin"].password)


def test_a_certificate_for_another_name_is_refused(slapd: Slapd,
                                                   ldap_users: dict[str, User]) -> None:
    """The certificate is for 127.0.0.1; reached as localhost, it does not match."""
    url = slapd.ldaps_url.replace("127.0.0.1", "localhost")
    auth = authenticator(slapd, url=url, ca_file=str(slapd.ca_file))
    with pytest.raises(DirectoryUnavailable, match="doesn't match any name"):
        auth.authenticate("admin", ldap_users["admin"].password)


def test_validate_none_trusts_any_certificate_and_says_so(slapd: Slapd, ldap_users: dict[str, User],
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    auth = authenticator(slapd, url=slapd.ldaps_url, validate="none")
    assert "without checking the server's certificate" in caplog.text
    assert auth.authenticate("admin", ldap_users["admin"].password).user == "admin"


# -- settings -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "message"), [
    ({"bind_passwd": "x"}, "unknown key 'bind_passwd'"),
    ({"urls": ["ldap://127.0.0.1"]}, "either url"),
    ({"url": "http://127.0.0.1"}, "is not ldap://host"),
    ({"url": "ldap://127.0.0.1/dc=calipso,dc=test"}, "is not ldap://host"),
    ({"url": "ldap://user:pw@127.0.0.1"}, "is not ldap://host"),
    ({"url": "ldap://127.0.0.1:notaport"}, "bad port"),
    ({"url": []}, "urls must be a non-empty list"),
    ({"url": "ldaps://127.0.0.1", "start_tls": True}, "start_tls upgrades ldap://"),
    ({"ca_file": "/etc/hostname"}, "no connection uses TLS"),
    ({"start_tls": True, "ca_file": "/nonexistent/ca.pem"}, "not a readable file"),
    ({"start_tls": "yes"}, "start_tls must be bool"),
    ({"validate": "optional"}, "validate must be one of required, none"),
    ({"bind": "anonymous"}, "bind must be one of search, direct"),
    ({"bind_dn": None}, "bind search needs bind_dn"),
    ({"user_filter": "(uid=%s)"}, "must hold {username}"),
    ({"user_filter": "(&(uid={username})(o={org}))"}, "no other placeholder"),
    ({"user_filter": "(uid={username!r})"}, "no other placeholder"),
    ({"user_filter": "uid={username}"}, "parenthesised LDAP filter"),
    ({"user_base": "people"}, "user_base 'people' is not a DN"),
    ({"user_dn_template": "uid={username},dc=x"}, "user_dn_template is for bind: direct"),
    ({"groups_from": "groups"}, "groups_from must be one of member, memberOf"),
    ({"group_base": None}, "groups_from member needs group_base"),
    ({"group_filter": "(member={username})"}, "must hold {user_dn}"),
    ({"group_roles": {}}, "maps no group"),
    ({"group_roles": {"not a dn": {"lab": "admin"}}}, "is not a DN"),
    ({"group_roles": {"cn=a,dc=x": {"lab": "root"}}}, "role one of viewer, operator, admin"),
    ({"group_roles": {"cn=a,dc=x": {"lab": "admin"}, "CN=A, DC=X": {"*": "viewer"}}},
     "given twice"),
    ({"receive_timeout": 0}, "must be > 0"),
    ({"receive_timeout": 1.5}, "receive_timeout must be int"),
    ({"username_attribute": "u id"}, "not an attribute name"),
])
def test_settings_errors_are_clear(change: dict[str, object], message: str) -> None:
    base = {"url": "ldap://127.0.0.1", "bind_dn": "cn=svc,dc=x", "bind_password": "pw",
            "user_base": "ou=people,dc=x", "group_base": "ou=groups,dc=x",
            "group_roles": {"cn=a,dc=x": {"lab": "admin"}}}
    with pytest.raises(LdapSettingsError, match=re.escape(message)):
        LdapSettings.from_mapping(base | change)


def test_group_roles_are_required() -> None:
    with pytest.raises(LdapSettingsError, match="group_roles is missing"):
        LdapSettings.from_mapping({"url": "ldap://127.0.0.1", "bind": "direct",
                                   "user_dn_template": "uid={username},dc=x",
                                   "groups_from": "memberOf"})


def test_direct_settings_errors_are_clear() -> None:
    base = {"url": "ldap://127.0.0.1", "bind": "direct", "groups_from": "memberOf",
            "user_dn_template": "uid={username},ou=people,dc=x",
            "group_roles": {"cn=a,dc=x": {"lab": "admin"}}}
    assert LdapSettings.from_mapping(base).bind == "direct"
    for change, message in [
        ({"user_dn_template": None}, "bind direct needs user_dn_template"),
        ({"user_dn_template": "{username}"}, "is not a DN"),
        ({"bind_dn": "cn=svc,dc=x"}, "bind direct uses no bind_dn"),
        ({"group_base": "ou=groups,dc=x"}, "group_base is for groups_from: member"),
    ]:
        with pytest.raises(LdapSettingsError, match=re.escape(message)):
            LdapSettings.from_mapping(base | change)


def test_the_service_password_from_the_environment() -> None:
    base = {"url": "ldaps://127.0.0.1", "bind_dn": "cn=svc,dc=x", "user_base": "dc=x",
            "group_base": "dc=x", "group_roles": {"cn=a,dc=x": {"*": "viewer"}}}
    settings = LdapSettings.from_mapping(base | {"bind_password_env": "LDAP_PW"},
                                         environ={"LDAP_PW": "s3cret-pw"})
    assert settings.bind_password == "s3cret-pw"
    assert "s3cret-pw" not in repr(settings)
    assert settings.validate == "required"  # TLS is checked unless said otherwise
    with pytest.raises(LdapSettingsError, match="'LDAP_PW' is not set"):
        LdapSettings.from_mapping(base | {"bind_password_env": "LDAP_PW"}, environ={})
    with pytest.raises(LdapSettingsError, match="not both"):
        LdapSettings.from_mapping(base | {"bind_password_env": "LDAP_PW", "bind_password": "x"},
                                  environ={"LDAP_PW": "y"})
