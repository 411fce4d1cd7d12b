"""The lab's OpenStack API: Keystone v3, Nova v2.1 and Neutron v2.0 on loopback, read-only.

It serves the lab description (see spec.py) in the payload formats of the real services, so that
discovery talks to the lab through unmodified openstacksdk exactly as it talks to a real cloud.
Everything lab-only in the description (port devices, server layout and netns, router port lists)
stays out of the responses. Credentials come from their own file, never from the description.

Run it as `python -m calipso_core.lab.cloud_api --description D --credentials C --listen
127.0.0.1:PORT`; the lab manager does, and writes the matching clouds.yaml with clouds_yaml().
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import signal
import socketserver
import sys
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import falcon
import falcon.uri

Json = dict[str, Any]
Query = dict[str, list[str]]
Microversion = tuple[int, int]

COMPUTE_MIN: Microversion = (2, 1)
COMPUTE_MAX: Microversion = (2, 96)  # 2024.2 (Dalmatian)
TOKEN_LIFETIME = timedelta(hours=1)
DEFAULT_CREATED = "2025-01-01T00:00:00Z"
DEFAULT_DOMAIN = {"id": "default", "name": "Default"}
ROLES = ("admin", "member", "reader")
# (service type, service name, path of its catalog endpoint), as devstack lays them out.
SERVICES = (("identity", "keystone", "/identity"), ("compute", "nova", "/compute/v2.1"),
            ("network", "neutron", "/network"))
TINY = {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}
HYPERVISOR_SIZE = {"vcpus": 8, "memory_mb": 16384, "local_gb": 80}
NOVA_RESERVED_MB = 512
# Fields of the description that Neutron does not have.
LAB_ONLY = {"ports": {"devices"}, "routers": {"host", "interface_port_ids", "gateway_port_id"}}
# Neutron list parameters that are not attribute filters.
NOT_FILTERS = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}
AGENT_PROCESSES = {  # agent_type: (binary, topic)
    "Open vSwitch agent": ("neutron-openvswitch-agent", "N/A"),
    "Linux bridge agent": ("neutron-linuxbridge-agent", "N/A"),
    "DHCP agent": ("neutron-dhcp-agent", "dhcp_agent"),
    "L3 agent": ("neutron-l3-agent", "l3_agent"),
    "Metadata agent": ("neutron-metadata-agent", "N/A"),
}


class ApiError(Exception):
    """An error response in the body format of the service that raises it."""

    def __init__(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def keystone_error(code: int, title: str, message: str) -> ApiError:
    return ApiError(code, {"error": {"code": code, "title": title, "message": message}})


def keystone_not_found(kind: str, item_id: str) -> ApiError:
    return keystone_error(404, "Not Found", f"Could not find {kind}: {item_id}.")


def nova_error(code: int, message: str) -> ApiError:
    key = {400: "badRequest", 404: "itemNotFound"}.get(code, "computeFault")
    return ApiError(code, {key: {"code": code, "message": message}})


def neutron_not_found(kind: str, item_id: str) -> ApiError:
    return ApiError(404, {"NeutronError": {"type": f"{kind}NotFound", "detail": "",
                                           "message": f"{kind} {item_id} could not be found."}})


def unauthorized(base: str) -> ApiError:
    """What keystonemiddleware answers in front of every service for a missing or bad token."""
    error = keystone_error(401, "Unauthorized", "Authentication is required for this request.")
    error.headers["WWW-Authenticate"] = f'Keystone uri="{base}/identity"'
    return error


# --- shared data -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cloud:
    """The description with the indexes and constants every response is shaped from."""

    description: Json
    user_id: str
    created: datetime
    ports: dict[str, Json]
    networks: dict[str, Json]

    @classmethod
    def of(cls, description: Json, username: str) -> Cloud:
        created = datetime.fromisoformat(description.get("created_at") or DEFAULT_CREATED)
        return cls(description, lab_id(description, "user", username), created,
                   {p["id"]: p for p in description["ports"]},
                   {n["id"]: n for n in description["networks"]})

    def computes(self) -> list[Json]:
        return [h for h in self.description["hosts"] if h["role"] == "compute"]

    def nova_services(self) -> list[tuple[Json, str]]:
        """(host, binary) of every Nova service; the position gives the pre-2.53 integer id."""
        return [(h, b) for h in self.description["hosts"] for b in h["nova_services"]]


def lab_id(description: Json, kind: str, key: str) -> str:
    """A stable id for things the description does not name (users, agents, hypervisors)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"calipso-lab-api:{description['name']}:{kind}:{key}").hex


def as_uuid(hex_id: str) -> str:
    return str(uuid.UUID(hex_id))


def nova_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def zulu(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_query(req: falcon.Request) -> Query:
    """Every parameter as a list: repeated parameters mean OR in both Nova and Neutron."""
    parsed = falcon.uri.parse_query_string(req.query_string, keep_blank=True, csv=False)
    return {k: v if isinstance(v, list) else [v] for k, v in parsed.items()}


# --- Keystone ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    project: Json
    issued_at: datetime
    expires_at: datetime
    audit_id: str


class TokenStore:
    """Tokens this process issued; in memory only, so a restart invalidates them all."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()  # the server answers each request on its own thread

    def issue(self, project: Json) -> tuple[str, Token]:
        now = datetime.now(UTC)
        token = Token(project, now, now + TOKEN_LIFETIME, secrets.token_urlsafe(16)[:22])
        token_id = secrets.token_hex(32)
        with self._lock:
            self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
            self._tokens[token_id] = token
        return token_id, token

    def lookup(self, token_id: str | None) -> Token | None:
        with self._lock:
            token = self._tokens.get(token_id or "")
        return token if token and token.expires_at > datetime.now(UTC) else None


def password_scope(cloud: Cloud, credentials: Json, auth: Json) -> Json:
    """The project a Keystone password request authenticates for; ApiError 401 otherwise."""
    identity = auth["identity"]
    user = identity["password"]["user"]
    project = next((p for p in cloud.description["projects"]
                    if p["name"] == credentials["project_name"]), None)
    # Without an explicit scope Keystone scopes to the user's default project.
    wanted = auth.get("scope", {}).get("project", {"id": project and project["id"]})
    if ("password" in identity["methods"] and project is not None
            and hmac.compare_digest(str(user.get("password", "")).encode(),
                                    credentials["password"].encode())
            and reference_matches(user, cloud.user_id, credentials["username"],
                                  credentials["user_domain_name"])
            and reference_matches(wanted, project["id"], project["name"],
                                  credentials["project_domain_name"])):
        return project
    raise keystone_error(401, "Unauthorized", "The credentials or the scope are not valid.")


def reference_matches(ref: Json, entity_id: str, name: str, domain_name: str) -> bool:
    """Keystone names a user or project by id, or by name within a domain (by id or name)."""
    domain = ref.get("domain", {})
    return ref.get("id") == entity_id or (ref.get("name") == name and (
        domain.get("id") == DEFAULT_DOMAIN["id"] or domain.get("name") == domain_name))


def catalog(base: str, region: str) -> list[Json]:
    return [{"id": uuid.uuid5(uuid.NAMESPACE_URL, base + path).hex, "type": kind, "name": name,
             "endpoints": [{"id": uuid.uuid5(uuid.NAMESPACE_URL, f"{base}{path}:public").hex,
                            "interface": "public", "region": region, "region_id": region,
                            "url": base + path}]}
            for kind, name, path in SERVICES]


def token_body(cloud: Cloud, username: str, token: Token, base: str) -> Json:
    domain = dict(DEFAULT_DOMAIN)
    return {"token": {
        "methods": ["password"], "audit_ids": [token.audit_id], "is_domain": False,
        "issued_at": token.issued_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "expires_at": token.expires_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "user": {"id": cloud.user_id, "name": username, "domain": domain,
                 "password_expires_at": None},
        "project": {"id": token.project["id"], "name": token.project["name"], "domain": domain},
        "roles": [{"id": lab_id(cloud.description, "role", r), "name": r} for r in ROLES],
        "catalog": catalog(base, cloud.description["region"]),
    }}


def keystone_projects(cloud: Cloud, base: str) -> list[Json]:
    return [{"is_domain": False, "parent_id": p["domain_id"], "tags": [], "options": {}, **p,
             "links": {"self": f"{base}/identity/v3/projects/{p['id']}"}}
            for p in cloud.description["projects"]]


def keystone_regions(cloud: Cloud, base: str) -> list[Json]:
    region = cloud.description["region"]
    return [{"id": region, "description": "", "parent_region_id": None,
             "links": {"self": f"{base}/identity/v3/regions/{region}"}}]


def keystone_domains(cloud: Cloud, base: str) -> list[Json]:
    return [{**DEFAULT_DOMAIN, "description": "The default domain", "enabled": True, "tags": [],
             "options": {}, "links": {"self": f"{base}/identity/v3/domains/default"}}]


def identity_version(base: str) -> Json:
    return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{base}/identity/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.identity-v3+json"}]}


# --- Nova --------------------------------------------------------------------------------------

def requested_microversion(req: falcon.Request) -> str | None:
    """The compute microversion asked for, from the 2.27+ header first, else the legacy one."""
    for part in (req.get_header("OpenStack-API-Version") or "").split(","):
        service, _, value = part.strip().partition(" ")
        if service.lower() == "compute":
            return value.strip()
    return req.get_header("X-OpenStack-Nova-API-Version")


def negotiate_microversion(text: str | None) -> Microversion:
    if text is None:
        return COMPUTE_MIN
    if text.lower() == "latest":
        return COMPUTE_MAX
    match = re.fullmatch(r"(\d+)\.(\d+)", text)
    if not match:
        raise nova_error(400, f"Microversion {text!r} is not of the form major.minor.")
    version = (int(match[1]), int(match[2]))
    if not COMPUTE_MIN <= version <= COMPUTE_MAX:
        raise nova_error(406, f"Microversion {text} is outside the supported range "
                              f"{'.'.join(map(str, COMPUTE_MIN))} to "
                              f"{'.'.join(map(str, COMPUTE_MAX))}.")
    return version


def compute_version(base: str) -> Json:
    return {"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/compute/v2.1/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


def select_servers(cloud: Cloud, query: Query, token: Token) -> list[Json]:
    """Nova's list filters: without all_tenants a listing stays in the token's project."""
    all_tenants = "all_tenants" in query and query["all_tenants"][0].lower() not in (
        "0", "false", "f", "no", "n", "off")
    projects = (query.get("project_id") or query.get("tenant_id")) if all_tenants \
        else [token.project["id"]]
    try:
        names = [re.compile(pattern) for pattern in query.get("name", [])]
    except re.error as exc:
        raise nova_error(400, f"Invalid name filter: {exc}") from None
    return [s for s in cloud.description["servers"]
            if (not projects or s["project_id"] in projects)
            and ("host" not in query or s["host"] in query["host"])
            and (not names or any(n.search(s["name"]) for n in names))]


def server_addresses(cloud: Cloud, server: Json) -> Json:
    addresses: Json = {}
    for port in (cloud.ports[pid] for pid in server["port_ids"]):
        network = cloud.networks[port["network_id"]]
        addresses.setdefault(network["name"], []).extend(
            {"version": ipaddress.ip_address(ip["ip_address"]).version,
             "addr": ip["ip_address"], "OS-EXT-IPS:type": "fixed",
             "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]} for ip in port["fixed_ips"])
    return addresses


def server_flavor(version: Microversion, base: str) -> Json:
    """A link to the flavor before 2.47, the flavor's own values embedded from 2.47."""
    if version < (2, 47):
        return {"id": TINY["id"], "links": [{"rel": "bookmark",
                                             "href": f"{base}/compute/flavors/{TINY['id']}"}]}
    return {"original_name": TINY["name"], "vcpus": TINY["vcpus"], "ram": TINY["ram"],
            "disk": TINY["disk"], "ephemeral": 0, "swap": 0, "extra_specs": {}}


def server_links(server_id: str, base: str) -> list[Json]:
    return [{"rel": "self", "href": f"{base}/compute/v2.1/servers/{server_id}"},
            {"rel": "bookmark", "href": f"{base}/compute/servers/{server_id}"}]


def server_detail(cloud: Cloud, server: Json, version: Microversion, base: str) -> Json:
    created = zulu(cloud.created)
    image_id = as_uuid(lab_id(cloud.description, "image", "cirros"))
    body: Json = {
        "id": server["id"], "name": server["name"], "status": server["status"],
        "tenant_id": server["project_id"], "user_id": cloud.user_id, "metadata": {},
        "hostId": hashlib.sha224((server["project_id"] + server["host"]).encode()).hexdigest(),
        "image": {"id": image_id, "links": [
            {"rel": "bookmark", "href": f"{base}/compute/images/{image_id}"}]},
        "flavor": server_flavor(version, base), "created": created, "updated": created,
        "addresses": server_addresses(cloud, server), "accessIPv4": "", "accessIPv6": "",
        "links": server_links(server["id"], base), "OS-DCF:diskConfig": "MANUAL",
        "progress": 0, "config_drive": "", "key_name": None,
        "OS-EXT-AZ:availability_zone": server["availability_zone"],
        "OS-EXT-SRV-ATTR:host": server["host"],
        "OS-EXT-SRV-ATTR:hypervisor_hostname": server["host"],
        "OS-EXT-SRV-ATTR:instance_name": server["instance_name"],
        "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:power_state": 1,
        "OS-EXT-STS:task_state": None, "OS-SRV-USG:launched_at": nova_time(cloud.created),
        "OS-SRV-USG:terminated_at": None, "os-extended-volumes:volumes_attached": [],
        "security_groups": [{"name": "default"}],
    }
    # Fields each microversion added to the server body, oldest first.
    for since, fields in (
            ((2, 3), {"OS-EXT-SRV-ATTR:hostname": server["name"],
                      "OS-EXT-SRV-ATTR:reservation_id": f"r-{server['id'][:8]}",
                      "OS-EXT-SRV-ATTR:launch_index": 0, "OS-EXT-SRV-ATTR:kernel_id": "",
                      "OS-EXT-SRV-ATTR:ramdisk_id": "", "OS-EXT-SRV-ATTR:user_data": None,
                      "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda"}),
            ((2, 9), {"locked": False}), ((2, 16), {"host_status": "UP"}),
            ((2, 19), {"description": None}), ((2, 26), {"tags": []}),
            ((2, 63), {"trusted_image_certificates": None}), ((2, 71), {"server_groups": []}),
            ((2, 73), {"locked_reason": None}),
            ((2, 96), {"pinned_availability_zone": None})):
        if version >= since:
            body.update(fields)
    return body


def server_interfaces(cloud: Cloud, server: Json, version: Microversion) -> list[Json]:
    return [{"port_id": p["id"], "net_id": p["network_id"], "mac_addr": p["mac_address"],
             "port_state": p["status"], "fixed_ips": p["fixed_ips"],
             **({"tag": None} if version >= (2, 70) else {})}
            for p in (cloud.ports[pid] for pid in server["port_ids"])]


def service_id(cloud: Cloud, host: Json, binary: str, version: Microversion) -> str | int:
    """A uuid from 2.53, before that the service's row number."""
    if version >= (2, 53):
        return as_uuid(lab_id(cloud.description, "nova-service", f"{host['name']}:{binary}"))
    return cloud.nova_services().index((host, binary)) + 1


def nova_services(cloud: Cloud, version: Microversion, query: Query, now: datetime) -> list[Json]:
    return [{"id": service_id(cloud, host, binary, version), "binary": binary,
             "host": host["name"], "zone": "nova" if binary == "nova-compute" else "internal",
             "status": "enabled", "state": "up", "updated_at": nova_time(now),
             "disabled_reason": None, **({"forced_down": False} if version >= (2, 11) else {})}
            for host, binary in cloud.nova_services()
            if host["name"] in query.get("host", [host["name"]])
            and binary in query.get("binary", [binary])]


def hypervisor(cloud: Cloud, number: int, version: Microversion, detail: bool) -> Json:
    """Hypervisor `number` (1-based, the pre-2.53 id): 2.53 gave uuids, 2.88 dropped stats."""
    host = cloud.computes()[number - 1]
    body: Json = {"id": as_uuid(lab_id(cloud.description, "hypervisor", host["name"]))
                  if version >= (2, 53) else number,
                  "hypervisor_hostname": host["name"], "state": "up", "status": "enabled"}
    if detail:
        body.update({"hypervisor_type": "QEMU", "hypervisor_version": 8002002,
                     "host_ip": host["management_ip"],
                     "service": {"host": host["name"], "disabled_reason": None,
                                 "id": service_id(cloud, host, "nova-compute", version)}})
    if detail and version < (2, 88):
        body.update(hypervisor_stats(cloud, host, version))
    return body


def hypervisor_stats(cloud: Cloud, host: Json, version: Microversion) -> Json:
    vms = sum(1 for s in cloud.description["servers"] if s["host"] == host["name"])
    used_mb = NOVA_RESERVED_MB + vms * TINY["ram"]
    cpu_info = {"arch": "x86_64", "model": "qemu64", "vendor": "AMD", "features": [],
                "topology": {"sockets": 1, "cores": HYPERVISOR_SIZE["vcpus"], "threads": 1}}
    return {**HYPERVISOR_SIZE, "vcpus_used": vms * TINY["vcpus"], "memory_mb_used": used_mb,
            "free_ram_mb": HYPERVISOR_SIZE["memory_mb"] - used_mb,
            "local_gb_used": vms * TINY["disk"],
            "free_disk_gb": HYPERVISOR_SIZE["local_gb"] - vms * TINY["disk"],
            "disk_available_least": HYPERVISOR_SIZE["local_gb"] - vms * TINY["disk"],
            "current_workload": 0, "running_vms": vms,
            # a JSON string until 2.28 made it an object
            "cpu_info": cpu_info if version >= (2, 28) else json.dumps(cpu_info)}


def availability_zones(cloud: Cloud, detail: bool, now: datetime) -> list[Json]:
    """Compute services sit in zone nova; the others in the internal zone, shown only in detail."""
    zones: dict[str, Json] = {}
    for host, binary in cloud.nova_services():
        zone = "nova" if binary == "nova-compute" else "internal"
        zones.setdefault(zone, {}).setdefault(host["name"], {})[binary] = {
            "available": True, "active": True, "updated_at": nova_time(now)}
    return [{"zoneName": zone, "zoneState": {"available": True},
             "hosts": hosts if detail else None}
            for zone, hosts in sorted(zones.items()) if detail or zone != "internal"]


def flavor(version: Microversion, base: str) -> Json:
    body: Json = {**TINY, "swap": 0 if version >= (2, 75) else "", "rxtx_factor": 1.0,
                  "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": False,
                  "os-flavor-access:is_public": True,
                  "links": [{"rel": "self", "href": f"{base}/compute/v2.1/flavors/1"},
                            {"rel": "bookmark", "href": f"{base}/compute/flavors/1"}]}
    if version >= (2, 55):
        body["description"] = None
    if version >= (2, 61):
        body["extra_specs"] = {}
    return body


# --- Neutron -----------------------------------------------------------------------------------

def neutron_item(cloud: Cloud, kind: str, item: Json, extra: Json) -> Json:
    """A description entry as Neutron shows it: common fields, lab-only keys left out."""
    created = zulu(cloud.created)
    common = {"description": "", "tags": [], "revision_number": 1, "created_at": created,
              "updated_at": created, "tenant_id": item["project_id"]}
    return {**common, **{k: v for k, v in item.items() if k not in LAB_ONLY.get(kind, ())},
            **extra}


def neutron_networks(cloud: Cloud) -> list[Json]:
    return [neutron_item(cloud, "networks", net, {
        "subnets": [s["id"] for s in net["subnets"]], "availability_zones": ["nova"],
        "availability_zone_hints": [], "ipv4_address_scope": None, "ipv6_address_scope": None,
        "is_default": False, "port_security_enabled": True, "qos_policy_id": None,
        "l2_adjacency": True}) for net in cloud.description["networks"]]


def neutron_subnets(cloud: Cloud) -> list[Json]:
    return [neutron_item(cloud, "subnets", subnet, {
        "host_routes": [], "ipv6_address_mode": None, "ipv6_ra_mode": None,
        "subnetpool_id": None, "segment_id": None, "service_types": []})
        for net in cloud.description["networks"] for subnet in net["subnets"]]


def neutron_ports(cloud: Cloud) -> list[Json]:
    return [neutron_item(cloud, "ports", port, {
        "binding:profile": {}, "allowed_address_pairs": [], "extra_dhcp_opts": [],
        "security_groups": [], "dns_name": "", "ip_allocation": "immediate",
        "port_security_enabled": port["device_owner"].startswith("compute:")})
        for port in cloud.description["ports"]]


def neutron_routers(cloud: Cloud) -> list[Json]:
    return [neutron_item(cloud, "routers", router, {
        "routes": [], "distributed": False, "ha": False, "availability_zones": ["nova"],
        "availability_zone_hints": [], "flavor_id": None})
        for router in cloud.description["routers"]]


def neutron_agents(cloud: Cloud, now: datetime) -> list[Json]:
    """One agent per description host agent, alive: its heartbeat is the time of the request."""
    created = cloud.created.strftime("%Y-%m-%d %H:%M:%S")
    agents = []
    for host in cloud.description["hosts"]:
        for agent_type in host["agents"]:
            binary, topic = AGENT_PROCESSES[agent_type]
            agents.append({
                "id": as_uuid(lab_id(cloud.description, "agent", f"{host['name']}:{binary}")),
                "agent_type": agent_type, "binary": binary, "topic": topic,
                "host": host["name"], "admin_state_up": True, "alive": True,
                "availability_zone": "nova" if topic != "N/A" else None, "description": None,
                "created_at": created, "started_at": created,
                "heartbeat_timestamp": now.strftime("%Y-%m-%d %H:%M:%S"),
                "resources_synced": None,
                "configurations": agent_configuration(cloud, host, agent_type)})
    return agents


def agent_configuration(cloud: Cloud, host: Json, agent_type: str) -> Json:
    ports = [p for p in cloud.description["ports"] if p["binding:host_id"] == host["name"]]
    if agent_type == "DHCP agent":
        dhcp = [p for p in ports if p["device_owner"] == "network:dhcp"]
        return {"dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq", "dhcp_lease_time": 86400,
                "networks": len(dhcp), "subnets": len(dhcp), "ports": len(dhcp),
                "log_agent_heartbeats": False}
    if agent_type == "L3 agent":
        routers = [r for r in cloud.description["routers"] if r["host"] == host["name"]]
        return {"agent_mode": "legacy", "routers": len(routers), "floating_ips": 0,
                "interfaces": sum(len(r["interface_port_ids"]) for r in routers),
                "ex_gw_ports": sum(1 for r in routers if r["gateway_port_id"]),
                "interface_driver": "openvswitch", "handle_internal_only_routers": True,
                "log_agent_heartbeats": False}
    if agent_type == "Metadata agent":
        return {"metadata_proxy_socket": "/var/lib/neutron/metadata_proxy",
                "nova_metadata_host": cloud.description["hosts"][0]["management_ip"],
                "nova_metadata_port": 8775, "log_agent_heartbeats": False}
    l2 = {"tunnel_types": ["vxlan"], "tunneling_ip": host["tunnel_ip"], "l2_population": True,
          "extensions": [], "log_agent_heartbeats": False}
    external = {"external": "br-ex"} if "br-ex" in host["ovs_bridges"] else {}
    if agent_type == "Linux bridge agent":
        return {**l2, "interface_mappings": {}, "bridge_mappings": {}}
    return {**l2, "bridge_mappings": external, "integration_bridge": "br-int",
            "tunnel_bridge": "br-tun", "datapath_type": "netdev", "arp_responder_enabled": True,
            "enable_distributed_routing": False, "in_distributed_mode": False,
            "ovs_hybrid_plug": host["layout"] == "ovs-hybrid"}


def filter_matches(value: Any, wanted: str) -> bool:
    """Neutron's equality filter: booleans by truth, lists by any element, dicts by key=value."""
    if isinstance(value, bool):
        return wanted.lower() in (("true", "1") if value else ("false", "0"))
    if isinstance(value, list):
        return any(filter_matches(element, wanted) for element in value)
    if isinstance(value, dict):
        key, _, expected = wanted.partition("=")
        return str(value.get(key)) == expected
    return str(value) == wanted


def filter_items(items: Iterable[Json], query: Query) -> list[Json]:
    """Keep items matching every filter; parameters that name no attribute are ignored."""
    filters = {k: v for k, v in query.items() if k not in NOT_FILTERS}
    return [item for item in items
            if all(key not in item or any(filter_matches(item[key], w) for w in wanted)
                   for key, wanted in filters.items())]


def project_fields(item: Json, query: Query) -> Json:
    fields = {f for value in query.get("fields", []) for f in value.split(",") if f}
    return {k: v for k, v in item.items() if k in fields} if fields else item


# --- falcon resources --------------------------------------------------------------------------

class VersionDocument:
    """A document clients read before they authenticate, to discover versions."""

    public_methods = frozenset({"GET"})

    def __init__(self, body: Callable[[str], Json], status: str = falcon.HTTP_200) -> None:
        self._body = body
        self._status = status

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = self._status
        resp.media = self._body(req.prefix)


class Tokens:
    public_methods = frozenset({"POST"})

    def __init__(self, cloud: Cloud, credentials: Json, store: TokenStore) -> None:
        self._cloud = cloud
        self._credentials = credentials
        self._store = store

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            project = password_scope(self._cloud, self._credentials, req.get_media()["auth"])
        except (falcon.MediaNotFoundError, falcon.MediaMalformedError, KeyError, TypeError,
                AttributeError):
            raise keystone_error(400, "Bad Request", "Malformed authentication request.") from None
        token_id, token = self._store.issue(project)
        resp.status = falcon.HTTP_201
        resp.set_header("X-Subject-Token", token_id)
        resp.media = token_body(self._cloud, self._credentials["username"], token, req.prefix)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        subject = req.get_header("X-Subject-Token")
        token = self._store.lookup(subject)
        if token is None or subject is None:
            raise keystone_error(404, "Not Found", "Could not find the subject token.")
        resp.set_header("X-Subject-Token", subject)
        resp.media = token_body(self._cloud, self._credentials["username"], token, req.prefix)


class Listing:
    """A Keystone or Neutron collection: a filtered list, and its members by id."""

    def __init__(self, plural: str, singular: str, source: Callable[[str], list[Json]],
                 missing: Callable[[str], ApiError], keystone: bool = False) -> None:
        self._plural = plural
        self._singular = singular
        self._source = source
        self._missing = missing
        self._keystone = keystone

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = parse_query(req)
        body: Json = {self._plural: [project_fields(item, query)
                                     for item in filter_items(self._source(req.prefix), query)]}
        if self._keystone:
            body["links"] = {"self": req.url, "previous": None, "next": None}
        resp.media = body

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, item_id: str) -> None:
        item = next((i for i in self._source(req.prefix) if i["id"] == item_id), None)
        if item is None:
            raise self._missing(item_id)
        resp.media = {self._singular: project_fields(item, parse_query(req))}


class ComputeResource:
    """Base of the Nova resources: they answer in the negotiated microversion."""

    microversioned = True

    def __init__(self, cloud: Cloud) -> None:
        self._cloud = cloud

    def _server(self, server_id: str) -> Json:
        server = next((s for s in self._cloud.description["servers"] if s["id"] == server_id),
                      None)
        if server is None:
            raise nova_error(404, f"Instance {server_id} could not be found.")
        return server


class Servers(ComputeResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        servers = select_servers(self._cloud, parse_query(req), req.context.token)
        resp.media = {"servers": [{"id": s["id"], "name": s["name"],
                                   "links": server_links(s["id"], req.prefix)} for s in servers]}

    def on_get_detail(self, req: falcon.Request, resp: falcon.Response) -> None:
        servers = select_servers(self._cloud, parse_query(req), req.context.token)
        resp.media = {"servers": [server_detail(self._cloud, s, req.context.microversion,
                                                req.prefix) for s in servers]}

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, server_id: str) -> None:
        resp.media = {"server": server_detail(self._cloud, self._server(server_id),
                                              req.context.microversion, req.prefix)}

    def on_get_interfaces(self, req: falcon.Request, resp: falcon.Response,
                          server_id: str) -> None:
        resp.media = {"interfaceAttachments": server_interfaces(
            self._cloud, self._server(server_id), req.context.microversion)}


class Hypervisors(ComputeResource):
    def _all(self, req: falcon.Request, detail: bool) -> list[Json]:
        return [hypervisor(self._cloud, number, req.context.microversion, detail)
                for number in range(1, len(self._cloud.computes()) + 1)]

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"hypervisors": self._all(req, detail=False)}

    def on_get_detail(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"hypervisors": self._all(req, detail=True)}

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, hv_id: str) -> None:
        found = next((h for h in self._all(req, detail=True) if str(h["id"]) == hv_id), None)
        if found is None:
            raise nova_error(404, f"Hypervisor {hv_id} could not be found.")
        if req.context.microversion >= (2, 88):  # 2.88 moved uptime from its own call to here
            found["uptime"] = " 00:00:00 up 1 day,  1 user,  load average: 0.00, 0.00, 0.00"
        resp.media = {"hypervisor": found}


class Services(ComputeResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"services": nova_services(self._cloud, req.context.microversion,
                                                parse_query(req), datetime.now(UTC))}


class AvailabilityZones(ComputeResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"availabilityZoneInfo": availability_zones(self._cloud, False,
                                                                 datetime.now(UTC))}

    def on_get_detail(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"availabilityZoneInfo": availability_zones(self._cloud, True,
                                                                 datetime.now(UTC))}


class Flavors(ComputeResource):
    def on_get_detail(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"flavors": [flavor(req.context.microversion, req.prefix)]}


class RequireToken:
    """keystonemiddleware's part: every resource not marked public needs a live token."""

    def __init__(self, store: TokenStore) -> None:
        self._store = store

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: object,
                         params: Json) -> None:
        if resource is None or req.method in getattr(resource, "public_methods", ()):
            return
        token = self._store.lookup(req.get_header("X-Auth-Token"))
        if token is None:
            raise unauthorized(req.prefix)
        req.context.token = token


class ComputeMicroversions:
    """Nova's microversion negotiation, and its echo in the response headers."""

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: object,
                         params: Json) -> None:
        if getattr(resource, "microversioned", False):
            req.context.microversion = negotiate_microversion(requested_microversion(req))

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: object,
                         req_succeeded: bool) -> None:
        version = getattr(req.context, "microversion", None)
        if version is not None:
            text = f"{version[0]}.{version[1]}"
            resp.set_header("OpenStack-API-Version", f"compute {text}")
            resp.set_header("X-OpenStack-Nova-API-Version", text)
            resp.set_header("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version")


def render_error(req: falcon.Request, resp: falcon.Response, error: ApiError,
                 params: Json) -> None:
    resp.status = falcon.code_to_http_status(error.status)
    resp.media = error.body
    resp.set_headers(error.headers)


def make_app(description: dict, credentials: dict) -> falcon.App:
    """The WSGI app of the three services over one description and one user's credentials."""
    cloud = Cloud.of(description, credentials["username"])
    store = TokenStore()
    app = falcon.App(middleware=[RequireToken(store), ComputeMicroversions()])
    # Clients follow the version links, which end in a slash.
    app.req_options.strip_url_path_trailing_slash = True
    app.add_error_handler(ApiError, render_error)
    add_identity_routes(app, cloud, credentials, store)
    add_compute_routes(app, cloud)
    add_network_routes(app, cloud)
    return app


def add_identity_routes(app: falcon.App, cloud: Cloud, credentials: Json,
                        store: TokenStore) -> None:
    # Keystone answers its unversioned root with 300 Multiple Choices.
    app.add_route("/identity", VersionDocument(
        lambda base: {"versions": {"values": [identity_version(base)]}}, falcon.HTTP_300))
    app.add_route("/identity/v3", VersionDocument(
        lambda base: {"version": identity_version(base)}))
    app.add_route("/identity/v3/auth/tokens", Tokens(cloud, credentials, store))
    for plural, source in (("projects", keystone_projects), ("regions", keystone_regions),
                           ("domains", keystone_domains)):
        listing = Listing(plural, plural[:-1], partial(source, cloud),
                          partial(keystone_not_found, plural[:-1]), keystone=True)
        app.add_route(f"/identity/v3/{plural}", listing)
        app.add_route(f"/identity/v3/{plural}/{{item_id}}", listing, suffix="item")


def add_compute_routes(app: falcon.App, cloud: Cloud) -> None:
    app.add_route("/compute", VersionDocument(
        lambda base: {"versions": [compute_version(base)]}))
    app.add_route("/compute/v2.1", VersionDocument(
        lambda base: {"version": compute_version(base)}))
    v21 = "/compute/v2.1"
    servers, hypervisors = Servers(cloud), Hypervisors(cloud)
    zones = AvailabilityZones(cloud)
    app.add_route(f"{v21}/servers", servers)
    app.add_route(f"{v21}/servers/detail", servers, suffix="detail")
    app.add_route(f"{v21}/servers/{{server_id}}", servers, suffix="item")
    app.add_route(f"{v21}/servers/{{server_id}}/os-interface", servers, suffix="interfaces")
    app.add_route(f"{v21}/os-hypervisors", hypervisors)
    app.add_route(f"{v21}/os-hypervisors/detail", hypervisors, suffix="detail")
    app.add_route(f"{v21}/os-hypervisors/{{hv_id}}", hypervisors, suffix="item")
    app.add_route(f"{v21}/os-services", Services(cloud))
    app.add_route(f"{v21}/os-availability-zone", zones)
    app.add_route(f"{v21}/os-availability-zone/detail", zones, suffix="detail")
    app.add_route(f"{v21}/flavors/detail", Flavors(cloud), suffix="detail")


def add_network_routes(app: falcon.App, cloud: Cloud) -> None:
    # The description does not change while served; only the agents' heartbeats move on.
    networks, subnets = neutron_networks(cloud), neutron_subnets(cloud)
    ports, routers = neutron_ports(cloud), neutron_routers(cloud)
    sources: dict[str, tuple[str, Callable[[str], list[Json]]]] = {
        "networks": ("Network", lambda _base: networks),
        "subnets": ("Subnet", lambda _base: subnets),
        "ports": ("Port", lambda _base: ports),
        "routers": ("Router", lambda _base: routers),
        "agents": ("Agent", lambda _base: neutron_agents(cloud, datetime.now(UTC))),
    }
    app.add_route("/network", VersionDocument(lambda base: {"versions": [
        {"id": "v2.0", "status": "CURRENT",
         "links": [{"rel": "self", "href": f"{base}/network/v2.0/"}]}]}))
    app.add_route("/network/v2.0", VersionDocument(lambda base: {"resources": [
        {"name": plural[:-1], "collection": plural,
         "links": [{"rel": "self", "href": f"{base}/network/v2.0/{plural}"}]}
        for plural in sources]}))
    for plural, (kind, source) in sources.items():
        listing = Listing(plural, plural[:-1], source, partial(neutron_not_found, kind))
        app.add_route(f"/network/v2.0/{plural}", listing)
        app.add_route(f"/network/v2.0/{plural}/{{item_id}}", listing, suffix="item")


# --- serving -----------------------------------------------------------------------------------

class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per request, so a slow client never holds up discovery's parallel calls."""

    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    """No access log: the lab's log would fill with one line per discovery request."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class DescriptionFollower:
    """The WSGI app over the description as it is on disk now: the lab rewrites the file when
    its state changes (a VM deleted), and the API then answers as the cloud's would. A change
    starts a new app, so tokens issued before it must be renewed (openstacksdk does)."""

    def __init__(self, description_path: Path, credentials: Json) -> None:
        self._path = description_path
        self._credentials = credentials
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._app: falcon.App | None = None

    def _current(self) -> falcon.App:
        stamp = self._path.stat().st_mtime_ns
        with self._lock:
            if self._app is None or stamp != self._stamp:
                self._app = make_app(json.loads(self._path.read_text()), self._credentials)
                self._stamp = stamp
            return self._app

    def __call__(self, environ: Json, start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self._current()(environ, start_response)


def serve(description_path: Path, credentials_path: Path, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT; must run in the main thread, which owns the signals."""
    app = DescriptionFollower(description_path, json.loads(credentials_path.read_text()))
    with make_server(host, port, app, server_class=ThreadingWSGIServer,
                     handler_class=QuietHandler) as server:

        def stop(signum: int, frame: FrameType | None) -> None:
            # shutdown() waits for serve_forever() to return, which runs in this very thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(f"OpenStack API of the lab on http://{host}:{port}", file=sys.stderr, flush=True)
        server.serve_forever()


def clouds_yaml(cloud_name: str, auth_url: str, credentials: dict, region: str) -> dict:
    """The clouds.yaml mapping that points openstacksdk at this API."""
    if not auth_url.rstrip("/").endswith("/identity/v3"):
        raise ValueError(f"auth_url must end with /identity/v3: {auth_url}")
    auth = {key: credentials[key] for key in ("username", "password", "project_name",
                                              "user_domain_name", "project_domain_name")}
    return {"clouds": {cloud_name: {"auth": {"auth_url": auth_url, **auth},
                                    "region_name": region, "identity_api_version": 3,
                                    "interface": "public"}}}


def loopback_listen(text: str) -> tuple[str, int]:
    """HOST:PORT with a loopback HOST: the API has no TLS and one shared admin password."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOOPBACK_IP:PORT, got {text!r}") from None
    if not address.is_loopback:
        raise argparse.ArgumentTypeError(f"refusing to listen on {host}: only loopback "
                                         "addresses such as 127.0.0.1 are allowed")
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1..65535, got {number}")
    return host, number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calipso_core.lab.cloud_api",
                                     description="Serve the lab's OpenStack API on loopback.")
    parser.add_argument("--description", type=Path, required=True, metavar="PATH")
    parser.add_argument("--credentials", type=Path, required=True, metavar="PATH")
    parser.add_argument("--listen", type=loopback_listen, required=True,
                        metavar="127.0.0.1:PORT")
    args = parser.parse_args(argv)
    host, port = args.listen
    try:
        serve(args.description, args.credentials, host, port)
    except (OSError, ValueError, KeyError) as exc:
        print(f"cloud_api: {exc!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
