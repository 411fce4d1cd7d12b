"""A private OpenLDAP server (Debian slapd) for tests, started as ENVIRONMENT.md describes: a
classic slapd.conf (core, cosine, nis and inetorgperson schemas, back_mdb, the memberof overlay)
with its own suffix and directory, seeded with slapadd, run in the foreground (`-d 0`) on free
loopback ports: `ldap://` (which offers StartTLS) and `ldaps://`, with a certificate from a test CA
made here. Users and groups are added online, through ldap3, because the memberof overlay only
maintains `memberOf` for entries added while slapd runs.

    with running_slapd(tmp_path) as slapd:
        users = seed_users(slapd)
        LdapAuthenticator(LdapSettings.from_mapping(ldap_settings(slapd)))

Test modules get one slapd for the session, seeded, with `pytest_plugins = ["tests.slapd"]`
(fixtures `slapd` and `ldap_users`). PYTEST_DONT_REWRITE: those modules import this one before
pytest loads it as a plugin, too late to rewrite its asserts (it has none), and pytest would
warn about it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ldap3
import pytest
from ldap3.utils.dn import escape_rdn

from tests.cloud_server import free_loopback_port

SUFFIX = "dc=calipso,dc=test"
MODULES = Path("/usr/lib/ldap")
SCHEMAS = Path("/etc/ldap/schema")


def ssha(password: str) -> str:
    """A userPassword value as slappasswd writes it, so the directory holds no clear text."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


@dataclass
class Slapd:
    url: str  # ldap://, StartTLS offered
    ldaps_url: str
    ca_file: Path  # the test CA that signed the server's certificate (for 127.0.0.1 only)
    base_dn: str
    people_dn: str
    groups_dn: str
    service_dn: str  # the service account that searches for users
    service_password: str
    manager_dn: str  # slapd's rootdn: adds entries
    manager_password: str
    process: subprocess.Popen[bytes]

    def _manager(self) -> ldap3.Connection:
        server = ldap3.Server(self.url, get_info=ldap3.NONE, connect_timeout=5)
        return ldap3.Connection(server, self.manager_dn, self.manager_password,
                                auto_bind=True, receive_timeout=5)

    def _add(self, dn: str, object_class: str, attributes: Mapping[str, object]) -> str:
        connection = self._manager()
        try:
            if not connection.add(dn, object_class, dict(attributes)):
                raise AssertionError(f"cannot add {dn}: {connection.result}")
        finally:
            connection.unbind()
        return dn

    def add_user(self, uid: str, password: str) -> str:
        """An inetOrgPerson under people_dn; its DN."""
        return self._add(f"uid={escape_rdn(uid)},{self.people_dn}", "inetOrgPerson",
                         {"uid": uid, "cn": uid, "sn": uid, "userPassword": ssha(password)})

    def add_group(self, cn: str, members: Sequence[str]) -> str:
        """A groupOfNames under groups_dn (the members' memberOf follows); its DN."""
        return self._add(f"cn={escape_rdn(cn)},{self.groups_dn}", "groupOfNames",
                         {"cn": cn, "member": list(members)})

    def pause(self) -> None:
        """Stop slapd answering, its ports still open: the kernel keeps accepting connections."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused slapd cannot act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signs for IP 127.0.0.1 (and no name): (CA
    certificate, server certificate, server key)."""
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, cert = directory / "server.key", directory / "server.pem"
    request = directory / "server.csr"
    extensions = directory / "server.ext"
    extensions.write_text("subjectAltName = IP:127.0.0.1\nbasicConstraints = critical, CA:FALSE\n"
                          "keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n")
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for argv in (
        ["openssl", "req", "-x509", *curve, "-keyout", ca_key, "-out", ca_cert, "-days", "2",
         "-subj", "/CN=Calipso test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", *curve, "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1"],
        ["openssl", "x509", "-req", "-in", request, "-CA", ca_cert, "-CAkey", ca_key,
         "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extensions],
    ):
        subprocess.run([str(a) for a in argv], check=True, capture_output=True, timeout=30)
    return ca_cert, cert, key


def _config(directory: Path, certificates: tuple[Path, Path, Path], manager_dn: str,
            manager_password: str) -> str:
    ca_cert, cert, key = certificates
    schemas = "".join(f"include {SCHEMAS / name}.schema\n"
                      for name in ("core", "cosine", "nis", "inetorgperson"))
    # `allow bind_anon_dn`: like the permissive servers out there, this one takes a simple bind
    # with a DN and an empty password as an anonymous bind, so the tests show that an empty
    # password never reaches the directory.
    return f"""{schemas}
pidfile {directory}/slapd.pid
argsfile {directory}/slapd.args
modulepath {MODULES}
moduleload back_mdb
moduleload memberof
allow bind_anon_dn
TLSCACertificateFile {ca_cert}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}

database mdb
maxsize 16777216
suffix "{SUFFIX}"
rootdn "{manager_dn}"
rootpw "{manager_password}"
directory {directory}/db
index objectClass eq
index uid eq
index member eq

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE

access to attrs=userPassword
    by anonymous auth
    by * none
access to *
    by users read
    by * none
"""


def _seed(service_dn: str, service_password: str) -> str:
    return f"""dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: calipso
o: Calipso tests

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ou=services,{SUFFIX}
objectClass: organizationalUnit
ou: services

dn: {service_dn}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: calipso-api
userPassword: {ssha(service_password)}
"""


def _wait_listening(process: subprocess.Popen[bytes], ports: Sequence[int],
                    timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    pending = list(ports)
    while pending:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited {process.returncode}: "
                               f"{process.stderr.read().decode() if process.stderr else ''}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"slapd is not listening on {pending} after {timeout} s")
        try:
            with socket.create_connection(("127.0.0.1", pending[0]), timeout=1):
                pending.pop(0)
        except OSError:
            time.sleep(0.005)


@contextmanager
def running_slapd(tmp_dir: Path) -> Iterator[Slapd]:
    """A slapd of its own under tmp_dir, seeded with the base entries and the service account,
    until the block ends; then stopped and its files removed."""
    directory = Path(tmp_dir) / f"slapd-{secrets.token_hex(4)}"
    (directory / "db").mkdir(parents=True)
    manager_dn, manager_password = f"cn=manager,{SUFFIX}", secrets.token_urlsafe(16)
    service_dn, service_password = f"cn=calipso-api,ou=services,{SUFFIX}", secrets.token_urlsafe(16)
    try:
        certificates = _make_certificates(directory)
        conf = directory / "slapd.conf"
        conf.write_text(_config(directory, certificates, manager_dn, manager_password))
        seed = directory / "seed.ldif"
        seed.write_text(_seed(service_dn, service_password))
        subprocess.run(["slapadd", "-f", str(conf), "-l", str(seed)], check=True,
                       capture_output=True, timeout=30)
        port, ldaps_port = free_loopback_port(), free_loopback_port()
        url, ldaps_url = f"ldap://127.0.0.1:{port}", f"ldaps://127.0.0.1:{ldaps_port}"
        process = subprocess.Popen(["slapd", "-f", str(conf), "-h", f"{url}/ {ldaps_url}/",
                                    "-d", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        slapd = Slapd(url, ldaps_url, certificates[0], SUFFIX, f"ou=people,{SUFFIX}",
                      f"ou=groups,{SUFFIX}", service_dn, service_password, manager_dn,
                      manager_password, process)
        try:
            _wait_listening(process, [port, ldaps_port])
            yield slapd
        finally:
            slapd.stop()
            if process.stderr:
                process.stderr.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# -- The users the API's tests log in as ------------------------------------------------------

SPECIAL_USERS = ("o'brien*(x)", "a,b=c+d")
"""Names that hold LDAP filter and DN special characters, legitimately."""


@dataclass(frozen=True)
class User:
    name: str
    password: str
    dn: str


def seed_users(slapd: Slapd) -> dict[str, User]:
    """Users and groups online: `admin` (admin of environment lab, viewer everywhere),
    `operator` (operator of lab through one group, viewer of lab through another; viewer
    everywhere), `viewer` (viewer everywhere), `nogroup` (only in a group no role is mapped to),
    and SPECIAL_USERS (viewers of lab); each with a random password."""
    users = {}
    for name in ("admin", "operator", "viewer", "nogroup", *SPECIAL_USERS):
        password = secrets.token_urlsafe(16)
        users[name] = User(name, password, slapd.add_user(name, password))
    for group, members in GROUPS.items():
        slapd.add_group(group, [users[m].dn for m in members])
    return users


GROUPS: Mapping[str, Sequence[str]] = {
    "lab-admins": ["admin"],
    "lab-operators": ["operator"],
    "lab-viewers": ["operator", *SPECIAL_USERS],
    "everyone": ["admin", "operator", "viewer"],
    "staff": ["nogroup"],  # no role mapped
}
ROLES: Mapping[str, Mapping[str, str]] = {
    "lab-admins": {"lab": "admin"},
    "lab-operators": {"lab": "operator"},
    "lab-viewers": {"lab": "viewer"},
    "everyone": {"*": "viewer"},
}


def group_roles(slapd: Slapd) -> dict[str, Mapping[str, str]]:
    """ROLES by group DN, as an operator would write them in the settings: upper case, spaces
    after the commas (DNs compare case-insensitively and normalised)."""
    return {f"CN={group}, {slapd.groups_dn.upper().replace(',', ', ')}": roles
            for group, roles in ROLES.items()}


def ldap_settings(slapd: Slapd, bind: str = "search", groups_from: str = "member",
                  **overrides: object) -> dict[str, object]:
    """The `ldap` settings (as in the configuration file) that log the seeded users in against
    this slapd: bind "search" (as the service account) or "direct"; groups from "member" or
    "memberOf"."""
    settings: dict[str, object] = {"url": slapd.url, "bind": bind, "groups_from": groups_from,
                                   "group_roles": group_roles(slapd)}
    if bind == "search":
        settings |= {"bind_dn": slapd.service_dn, "bind_password": slapd.service_password,
                     "user_base": slapd.people_dn}
    else:
        settings["user_dn_template"] = f"uid={{username}},{slapd.people_dn}"
    if groups_from == "member":
        settings["group_base"] = slapd.groups_dn
    if "urls" in overrides:
        del settings["url"]
    return settings | overrides


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    with running_slapd(tmp_path_factory.mktemp("slapd")) as server:
        yield server


@pytest.fixture(scope="session")
def ldap_users(slapd: Slapd) -> dict[str, User]:
    return seed_users(slapd)
