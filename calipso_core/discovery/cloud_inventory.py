"""The cloud's logical view (OpenStack through openstacksdk) as objects, and its correlation
with what the hosts hold.

`fetch_cloud` is the only function that talks to the cloud; everything else works on the plain
dicts it returns, so the builders are tested on recorded API data as well as on the lab's API.
Discovery works without the cloud: when it is unreachable, the host-level inventory stands alone
and the scan records why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]
# Neutron names a port's devices with a prefix and the first 11 characters of its uuid.
DEVICE_ID_CHARS = 11


class CloudUnavailable(RuntimeError):
    """The cloud's API could not be read; the message says why (never with credentials)."""


@dataclass
class CloudView:
    """What the cloud's API says, as plain dicts of its own resources."""

    region: str | None = None
    projects: list[Doc] = field(default_factory=list)
    networks: list[Doc] = field(default_factory=list)
    subnets: list[Doc] = field(default_factory=list)
    ports: list[Doc] = field(default_factory=list)
    routers: list[Doc] = field(default_factory=list)
    servers: list[Doc] = field(default_factory=list)
    hypervisors: list[Doc] = field(default_factory=list)
    agents: list[Doc] = field(default_factory=list)


def fetch_cloud(cloud: str) -> CloudView:
    """Read the cloud named in clouds.yaml (openstacksdk's own lookup: OS_CLIENT_CONFIG_FILE,
    ./clouds.yaml, ~/.config/openstack, /etc/openstack)."""
    import openstack
    from keystoneauth1 import exceptions as auth_exceptions
    from openstack import exceptions as sdk_exceptions

    try:
        conn = openstack.connect(cloud=cloud)
        try:
            view = CloudView(
                region=conn.config.get_region_name(),
                projects=[p.to_dict() for p in conn.identity.projects()],
                networks=[n.to_dict() for n in conn.network.networks()],
                subnets=[s.to_dict() for s in conn.network.subnets()],
                ports=[p.to_dict() for p in conn.network.ports()],
                routers=[r.to_dict() for r in conn.network.routers()],
                servers=[s.to_dict() for s in conn.compute.servers(all_projects=True)],
                hypervisors=[h.to_dict() for h in conn.compute.hypervisors(details=True)],
                agents=[a.to_dict() for a in conn.network.agents()],
            )
        finally:
            conn.close()
    except (sdk_exceptions.SDKException, auth_exceptions.ClientException, OSError) as exc:
        raise CloudUnavailable(f"cloud {cloud!r}: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
    return view


def _obj(obj_type: str, obj_id: str, name: str, host: str | None = None,
         parent: tuple[str, str] | None = None, project: str | None = None,
         **attributes: Any) -> Doc:
    return {"type": obj_type, "id": obj_id, "name": name or obj_id, "host": host,
            "parent_type": parent[0] if parent else None,
            "parent_id": parent[1] if parent else None, "project": project,
            "source": ["cloud_api"], "attributes": attributes}


def cloud_objects(view: CloudView) -> list[Doc]:
    """Region, projects, networks (with subnets and segments), ports, instances and agents."""
    region = view.region or "RegionOne"
    objects = [_obj("region", region, region)]
    objects += [_obj("project", p["id"], p["name"], parent=("region", region),
                     project=p["id"], description=p.get("description"))
                for p in view.projects]
    subnets_of: dict[str, list[Doc]] = {}
    for subnet in view.subnets:
        subnets_of.setdefault(subnet["network_id"], []).append(
            {"id": subnet["id"], "name": subnet.get("name"), "cidr": subnet.get("cidr"),
             "gateway_ip": subnet.get("gateway_ip"), "dhcp": subnet.get("is_dhcp_enabled")})
    for net in view.networks:
        objects.append(_obj(
            "network", net["id"], net["name"], parent=("project", net["project_id"]),
            project=net["project_id"], network_type=net.get("provider_network_type"),
            segmentation_id=net.get("provider_segmentation_id"),
            physical_network=net.get("provider_physical_network"), mtu=net.get("mtu"),
            external=net.get("is_router_external"), shared=net.get("is_shared"),
            status=net.get("status"), subnets=subnets_of.get(net["id"], []),
            segments=net.get("segments") or [{
                "network_type": net.get("provider_network_type"),
                "segmentation_id": net.get("provider_segmentation_id"),
                "physical_network": net.get("provider_physical_network")}]))
    for port in view.ports:
        objects.append(_obj(
            "port", port["id"], port.get("name") or port["id"], host=port.get("binding_host_id"),
            parent=("network", port["network_id"]), project=port.get("project_id"),
            network_id=port["network_id"], mac=port.get("mac_address"),
            fixed_ips=port.get("fixed_ips", []), device_owner=port.get("device_owner"),
            device_id=port.get("device_id"), status=port.get("status"),
            vif_type=port.get("binding_vif_type"),
            vif_details=port.get("binding_vif_details") or {}))
    for server in view.servers:
        objects.append(_obj(
            "instance", server["id"], server["name"], host=server.get("compute_host"),
            parent=("project", server.get("project_id")), project=server.get("project_id"),
            status=server.get("status"), instance_name=server.get("instance_name"),
            availability_zone=server.get("availability_zone"),
            addresses=server.get("addresses") or {}))
    for agent in view.agents:
        objects.append(_obj(
            "network_agent", agent["id"], agent.get("binary") or agent["agent_type"],
            host=agent.get("host"), agent_type=agent.get("agent_type"),
            alive=agent.get("is_alive"), configuration=agent.get("configuration") or {}))
    return objects


def _name_from_cloud(obj: Doc, routers: dict[str, Doc], networks: dict[str, Doc],
                     hypervisors: dict[str | None, Doc]) -> None:
    """A qrouter/qdhcp vservice takes its router's or network's name and project; a host its
    hypervisor's type, state and status."""
    attributes = obj["attributes"]
    if obj["type"] == "host":
        hypervisor = hypervisors.get(obj["id"])
        if hypervisor is not None:
            attributes.update(hypervisor_type=hypervisor.get("hypervisor_type"),
                              hypervisor_state=hypervisor.get("state"),
                              hypervisor_status=hypervisor.get("status"))
        return
    source = (routers if attributes.get("service_type") == "router" else networks).get(
        attributes.get("object_id") or "")
    if source is not None:
        # The namespace's own name stays in the id and in attributes.namespace.
        obj["name"] = f"{obj['name'].split('-', 1)[0]}-{source['name']}"
        obj["project"] = source.get("project_id") or None


def correlate(host_objects: list[Doc], view: CloudView) -> list[Doc]:
    """Join host-level vnics with Neutron ports (by OVS iface-id, else by the tap or namespace
    device named after the port on the port's bound host). Returns the instance-vnic links the
    cloud tells (the only ones on Linux-bridge hosts, where nothing local names the instance)."""
    ports = {p["id"]: p for p in view.ports}
    routers = {r["id"]: r for r in view.routers}
    networks = {n["id"]: n for n in view.networks}
    hypervisors = {h.get("name"): h for h in view.hypervisors}
    by_device = {(p.get("binding_host_id"), p["id"][:DEVICE_ID_CHARS]): p for p in view.ports}
    servers = {s["id"]: s for s in view.servers}
    links = []
    for obj in host_objects:
        if obj["type"] in ("vservice", "host"):
            _name_from_cloud(obj, routers, networks, hypervisors)
            continue
        if obj["type"] != "vnic":
            continue
        attributes = obj["attributes"]
        # VPP's vhost-user sockets carry the port's prefix (vhu<prefix>), taps their name
        hint = attributes.get("port_hint") or obj["name"][-DEVICE_ID_CHARS:]
        port = ports.get(attributes.get("port_id") or "") or by_device.get((obj["host"], hint))
        if port is None:
            continue
        attributes.update(port_id=port["id"], network_id=port["network_id"],
                          guest_mac=port.get("mac_address"),
                          fixed_ips=[ip["ip_address"] for ip in port.get("fixed_ips", [])])
        obj["project"] = port.get("project_id") or None
        owner = port.get("device_owner") or ""
        if owner.startswith("compute:") and port.get("device_id") in servers:
            attributes["instance_id"] = port["device_id"]
            links.append({
                "id": f"instance-vnic:{port['device_id']}:{obj['id']}",
                "link_type": "instance-vnic", "source_id": port["device_id"],
                "source_type": "instance", "target_id": obj["id"], "target_type": "vnic",
                "host": obj["host"], "state": attributes.get("state") or "unknown",
                "attributes": {"port_id": port["id"]}})
    return links
