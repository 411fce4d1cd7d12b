"""The lab's OpenStack API, served for real and read through real openstacksdk."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message

import openstack
import pytest
from keystoneauth1 import exceptions as ksa_exceptions

from calipso_core.lab.cloud_api import clouds_yaml, main
from calipso_core.lab.spec import LabSpec, describe
from tests.cloud_server import CLOUD, Api, running_cloud_api

LAB_ONLY_KEYS = {"devices", "layout", "netns", "port_ids", "interface_port_ids",
                 "gateway_port_id", "nics", "ovs_bridges", "local_vlans"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_cloud_api(describe(LabSpec()), tmp_path_factory.mktemp("cloud_api")) as server:
        yield server
    assert server.returncode == 0, server.stderr
    # no access log, and never the password
    assert "GET /" not in server.stderr and server.credentials["password"] not in server.stderr


@pytest.fixture(scope="module")
def conn(api: Api) -> Iterator[openstack.connection.Connection]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(api.write_clouds_yaml("good",
                                                                            api.credentials)))
        connection = openstack.connect(cloud=CLOUD)
    yield connection
    connection.close()


def request(url: str, token: str | None = None, headers: dict | None = None,
            body: dict | None = None) -> tuple[int, Message, dict]:
    """status, headers (case-insensitive) and JSON body of one raw HTTP call, errors included."""
    all_headers = {"Accept": "application/json", **(headers or {})}
    if token:
        all_headers["X-Auth-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    if data:
        all_headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers, json.loads(err.read() or b"{}")


def password_auth(credentials: dict, password: str) -> dict:
    return {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": credentials["username"], "password": password,
            "domain": {"name": credentials["user_domain_name"]}}}},
        "scope": {"project": {"name": credentials["project_name"],
                              "domain": {"name": credentials["project_domain_name"]}}}}}


@pytest.fixture(scope="module")
def token(api: Api) -> str:
    status, headers, _ = request(f"{api.url}/identity/v3/auth/tokens",
                                 body=password_auth(api.credentials, api.credentials["password"]))
    assert status == 201
    return headers["X-Subject-Token"]


def ports_of(description: dict, **match: str) -> list[dict]:
    return [p for p in description["ports"] if all(p[k] == v for k, v in match.items())]


# --- through openstacksdk ----------------------------------------------------------------------

def test_projects(conn, api):
    assert sorted(p.name for p in conn.identity.projects()) == sorted(
        p["name"] for p in api.description["projects"])
    webshop = conn.identity.find_project("webshop", ignore_missing=False)
    assert webshop.id == api.description["projects"][1]["id"]


def test_servers_in_detail(conn, api):
    networks = {n["id"]: n["name"] for n in api.description["networks"]}
    servers = {s.id: s for s in conn.compute.servers(details=True, all_projects=True)}
    assert set(servers) == {s["id"] for s in api.description["servers"]}
    for expected in api.description["servers"]:
        server = servers[expected["id"]]
        assert (server.name, server.project_id, server.status) == (
            expected["name"], expected["project_id"], "ACTIVE")
        assert server.compute_host == server.hypervisor_hostname == expected["host"]
        assert server.instance_name == expected["instance_name"]
        assert server.hostname == expected["name"]
        assert server.availability_zone == "nova"
        assert (server.vm_state, server.power_state) == ("active", 1)
        assert server.flavor.original_name == "m1.tiny"
        wanted = {}
        for port in ports_of(api.description, device_id=expected["id"]):
            wanted.setdefault(networks[port["network_id"]], []).extend(
                (ip["ip_address"], port["mac_address"]) for ip in port["fixed_ips"])
        assert {name: [(a["addr"], a["OS-EXT-IPS-MAC:mac_addr"]) for a in addrs]
                for name, addrs in server.addresses.items()} == wanted


def test_server_listing_is_scoped_and_filtered(conn, api):
    # admin's own project has no VMs: without all_projects Nova lists only the token's project
    assert list(conn.compute.servers()) == []
    on_compute1 = {s.name for s in conn.compute.servers(all_projects=True,
                                                        compute_host="compute1")}
    assert on_compute1 == {s["name"] for s in api.description["servers"]
                           if s["host"] == "compute1"}
    webs = {s.name for s in conn.compute.servers(all_projects=True, name="^web-")}
    assert webs == {s["name"] for s in api.description["servers"]
                    if s["name"].startswith("web-")}


def test_server_interfaces(conn, api):
    server = api.description["servers"][0]
    interfaces = list(conn.compute.server_interfaces(server["id"]))
    assert [(i.port_id, i.mac_addr) for i in interfaces] == [
        (p["id"], p["mac_address"]) for p in ports_of(api.description, device_id=server["id"])]


def test_hypervisors_and_services(conn, api):
    computes = {h["name"]: h for h in api.description["hosts"] if h["role"] == "compute"}
    hypervisors = list(conn.compute.hypervisors(details=True))
    assert {h.name: h.host_ip for h in hypervisors} == {
        name: h["management_ip"] for name, h in computes.items()}
    assert all(h.state == "up" and h.status == "enabled" for h in hypervisors)
    services = list(conn.compute.services())
    assert sorted((s.binary, s.host) for s in services) == sorted(
        (binary, h["name"]) for h in api.description["hosts"] for binary in h["nova_services"])
    compute_service_ids = {s.host: s.id for s in services if s.binary == "nova-compute"}
    assert {h.name: h.service_details["id"] for h in hypervisors} == compute_service_ids
    zones = {z.name: z.hosts for z in conn.compute.availability_zones(details=True)}
    assert set(zones["nova"]) == set(computes)
    assert set(zones["internal"]) == {"controller"}


def test_networks_and_subnets(conn, api):
    networks = {n.id: n for n in conn.network.networks()}
    for expected in api.description["networks"]:
        network = networks[expected["id"]]
        assert network.name == expected["name"]
        assert network.provider_segmentation_id == expected["provider:segmentation_id"]
        assert network.provider_network_type == expected["provider:network_type"]
        assert network.is_router_external == expected["router:external"]
        assert network.subnet_ids == [s["id"] for s in expected["subnets"]]
    subnets = {s.id: s for s in conn.network.subnets()}
    for expected in (s for n in api.description["networks"] for s in n["subnets"]):
        assert (subnets[expected["id"]].cidr, subnets[expected["id"]].gateway_ip) == (
            expected["cidr"], expected["gateway_ip"])


def test_ports_filtered_by_device_and_host(conn, api):
    for server in api.description["servers"]:
        ports = list(conn.network.ports(device_id=server["id"]))
        assert [p.id for p in ports] == server["port_ids"]
        assert ports[0].binding_vif_type == ports_of(api.description, id=ports[0].id)[0][
            "binding:vif_type"]
    on_compute3 = {p.id for p in conn.network.ports(**{"binding:host_id": "compute3"})}
    assert on_compute3 == {p["id"] for p in ports_of(api.description,
                                                     **{"binding:host_id": "compute3"})}


def test_routers(conn, api):
    (router,) = conn.network.routers()
    expected = api.description["routers"][0]
    public = next(n for n in api.description["networks"] if n["router:external"])
    assert (router.id, router.name) == (expected["id"], expected["name"])
    assert router.external_gateway_info["network_id"] == public["id"]
    assert router.external_gateway_info["external_fixed_ips"] == ports_of(
        api.description, id=expected["gateway_port_id"])[0]["fixed_ips"]


def test_agents(conn, api):
    hosts = {h["name"]: h for h in api.description["hosts"]}
    agents = list(conn.network.agents())
    assert sorted((a.agent_type, a.host) for a in agents) == sorted(
        (agent, name) for name, h in hosts.items() for agent in h["agents"])
    assert all(a.is_alive and a.is_admin_state_up for a in agents)
    for agent in agents:
        if agent.agent_type in ("Open vSwitch agent", "Linux bridge agent"):
            assert agent.configuration["tunneling_ip"] == hosts[agent.host]["tunnel_ip"]
            assert agent.configuration["tunnel_types"] == ["vxlan"]
    ovs = {a.host: a for a in agents if a.agent_type == "Open vSwitch agent"}
    assert ovs["controller"].binary == "neutron-openvswitch-agent"
    assert ovs["controller"].configuration["bridge_mappings"] == {"external": "br-ex"}
    assert ovs["compute1"].configuration["bridge_mappings"] == {}
    (bridge,) = (a for a in agents if a.agent_type == "Linux bridge agent")
    assert "interface_mappings" in bridge.configuration


def test_wrong_password_is_an_auth_error(api, monkeypatch):
    wrong = dict(api.credentials, password="not-" + api.credentials["password"])
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(api.write_clouds_yaml("bad", wrong)))
    with openstack.connect(cloud=CLOUD) as bad, pytest.raises(ksa_exceptions.Unauthorized):
        list(bad.network.networks())


# --- raw HTTP ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/identity/v3/projects", "/compute/v2.1/servers/detail",
                                  "/compute/v2.1/os-hypervisors", "/network/v2.0/ports"])
def test_no_or_unknown_token_is_401(api, path):
    for token in (None, "0" * 64):
        status, _, body = request(api.url + path, token)
        assert status == 401
        assert body["error"]["code"] == 401


def test_token_validation(api, token):
    status, headers, body = request(f"{api.url}/identity/v3/auth/tokens", token,
                                    {"X-Subject-Token": token})
    assert status == 200 and headers["X-Subject-Token"] == token
    assert body["token"]["project"]["name"] == "admin"
    assert {e["type"] for e in body["token"]["catalog"]} == {"identity", "compute", "network"}
    assert request(f"{api.url}/identity/v3/auth/tokens", token,
                   {"X-Subject-Token": "f" * 64})[0] == 404


def test_wrong_password_is_401_with_keystone_body(api):
    status, headers, body = request(f"{api.url}/identity/v3/auth/tokens",
                                    body=password_auth(api.credentials, "nope"))
    assert status == 401 and "X-Subject-Token" not in headers
    assert body["error"]["title"] == "Unauthorized"


@pytest.mark.parametrize("header", ["OpenStack-API-Version", "X-OpenStack-Nova-API-Version"])
def test_unsupported_microversion_is_406(api, token, header):
    for version in ("2.0", "2.97", "3.1"):
        value = f"compute {version}" if header == "OpenStack-API-Version" else version
        status, _, _ = request(f"{api.url}/compute/v2.1/servers/detail", token, {header: value})
        assert status == 406


def test_microversion_is_negotiated_and_echoed(api, token):
    url = f"{api.url}/compute/v2.1/servers/detail?all_tenants=1"
    _, headers, body = request(url, token)
    assert headers["OpenStack-API-Version"] == "compute 2.1"
    assert set(body["servers"][0]["flavor"]) == {"id", "links"}
    assert "OS-EXT-SRV-ATTR:hostname" not in body["servers"][0]
    _, headers, body = request(url, token, {"OpenStack-API-Version": "compute latest"})
    assert headers["OpenStack-API-Version"] == "compute 2.96"
    assert headers["X-OpenStack-Nova-API-Version"] == "2.96"
    assert "OpenStack-API-Version" in headers["Vary"]
    assert body["servers"][0]["flavor"]["original_name"] == "m1.tiny"
    status, _, body = request(url, token, {"OpenStack-API-Version": "compute two"})
    assert status == 400 and body["badRequest"]["code"] == 400


def test_hypervisor_shape_follows_microversion(api, token):
    url = f"{api.url}/compute/v2.1/os-hypervisors/detail"
    _, _, old = request(url, token, {"X-OpenStack-Nova-API-Version": "2.52"})
    assert all(isinstance(h["id"], int) and "vcpus" in h for h in old["hypervisors"])
    _, _, new = request(url, token, {"OpenStack-API-Version": "compute 2.88"})
    assert all(isinstance(h["id"], str) and "vcpus" not in h and "cpu_info" not in h
               for h in new["hypervisors"])
    hv_id = new["hypervisors"][0]["id"]
    status, _, one = request(f"{url[:-len('/detail')]}/{hv_id}", token,
                             {"OpenStack-API-Version": "compute 2.88"})
    assert status == 200 and one["hypervisor"]["hypervisor_hostname"] == "compute1"


def test_unknown_ids_are_404_in_the_service_format(api, token):
    status, _, body = request(f"{api.url}/network/v2.0/ports/no-such-port", token)
    assert status == 404 and body["NeutronError"]["type"] == "PortNotFound"
    status, _, body = request(f"{api.url}/compute/v2.1/servers/no-such-server", token)
    assert status == 404 and body["itemNotFound"]["code"] == 404
    status, _, body = request(f"{api.url}/identity/v3/projects/no-such-project", token)
    assert status == 404 and body["error"]["title"] == "Not Found"


def test_neutron_filters_and_fields(api, token):
    web, app = api.description["networks"][:2]
    url = (f"{api.url}/network/v2.0/ports?network_id={web['id']}&network_id={app['id']}"
           "&device_owner=network:dhcp&fields=id&fields=network_id")
    _, _, body = request(url, token)
    assert sorted(p["network_id"] for p in body["ports"]) == sorted([web["id"], app["id"]])
    assert all(set(p) == {"id", "network_id"} for p in body["ports"])
    gateway_ip = web["subnets"][0]["gateway_ip"]
    _, _, body = request(f"{api.url}/network/v2.0/ports?fixed_ips=ip_address={gateway_ip}",
                         token)
    assert [p["device_owner"] for p in body["ports"]] == ["network:router_interface"]
    _, _, body = request(f"{api.url}/network/v2.0/networks?router:external=true", token)
    assert [n["name"] for n in body["networks"]] == ["public"]


def all_keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in all_keys(v)}
    return set()


def test_no_lab_only_keys_and_no_password_in_any_response(api, token):
    server = api.description["servers"][0]
    paths = ["/identity", "/identity/v3", "/identity/v3/projects", "/identity/v3/regions",
             "/identity/v3/domains", "/compute", "/compute/v2.1", "/compute/v2.1/servers",
             "/compute/v2.1/servers/detail?all_tenants=1", f"/compute/v2.1/servers/{server['id']}",
             f"/compute/v2.1/servers/{server['id']}/os-interface",
             "/compute/v2.1/os-hypervisors/detail", "/compute/v2.1/os-services",
             "/compute/v2.1/os-availability-zone/detail", "/compute/v2.1/flavors/detail",
             "/network", "/network/v2.0", "/network/v2.0/networks", "/network/v2.0/subnets",
             "/network/v2.0/ports", f"/network/v2.0/ports/{server['port_ids'][0]}",
             "/network/v2.0/routers", "/network/v2.0/agents"]
    bodies = [request(api.url + path, token, {"OpenStack-API-Version": "compute latest"})
              for path in paths]
    bodies.append(request(f"{api.url}/identity/v3/auth/tokens",
                          body=password_auth(api.credentials, api.credentials["password"])))
    bodies.append(request(f"{api.url}/identity/v3/auth/tokens",
                          body=password_auth(api.credentials, "wrong")))
    for path, (status, headers, body) in zip([*paths, "POST", "POST bad"], bodies, strict=True):
        assert status in (200, 201, 300, 401), path
        assert not all_keys(body) & LAB_ONLY_KEYS, path
        assert api.credentials["password"] not in json.dumps(body) + str(headers), path


# --- helpers of the module ---------------------------------------------------------------------

def test_clouds_yaml():
    creds = {"username": "u", "password": "p", "project_name": "admin",
             "user_domain_name": "Default", "project_domain_name": "Default"}
    cloud = clouds_yaml("lab", "http://127.0.0.1:5000/identity/v3", creds, "RegionOne")
    entry = cloud["clouds"]["lab"]
    assert entry["auth"] == {"auth_url": "http://127.0.0.1:5000/identity/v3", **creds}
    assert (entry["identity_api_version"], entry["interface"], entry["region_name"]) == (
        3, "public", "RegionOne")
    with pytest.raises(ValueError, match="identity/v3"):
        clouds_yaml("lab", "http://127.0.0.1:5000/v2.0", creds, "RegionOne")


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "10.250.0.10:8080", "localhost:8080"])
def test_main_refuses_non_loopback_addresses(listen, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["--description", str(tmp_path / "d.json"), "--credentials",
              str(tmp_path / "c.json"), "--listen", listen])
    assert exit_info.value.code == 2
    assert "--listen" in capsys.readouterr().err
