"""The monitoring model rendered for Sensu Go and Sensu classic from the recorded lab's inventory
(host facts, joined with the lab's cloud API): one check per monitored object with the plugin
arguments the lab's description implies, valid documents for both flavours, golden files, and
validators that catch what Sensu would refuse."""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
from pathlib import Path

import pytest
import yaml

from calipso_core.discovery.assemble import assemble
from calipso_core.discovery.cloud_inventory import fetch_cloud
from calipso_core.monitoring.checks import (
    MONITORED_TYPES,
    MonitoringError,
    MonitoringSettings,
    build_checks,
    check_name,
)
from calipso_core.monitoring.render import files_of, render, write_files
from calipso_core.monitoring.sensu_classic import validate_classic_document
from calipso_core.monitoring.sensu_go import validate_agent_config, validate_go_resource
from tests.cloud_server import configured_cloud
from tests.recorded_lab import recorded_description, recorded_facts

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "data" / "monitoring_golden"
DESCRIPTION = recorded_description()
FACTS = recorded_facts()
HOSTS = {h["name"]: h for h in DESCRIPTION["hosts"]}
PORTS = {p["id"]: p for p in DESCRIPTION["ports"]}
TARGETS = ("sensu-go", "sensu-classic")
DNS_LABEL = re.compile(r"\A[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
PLUGINS = "/usr/local/lib/calipso/plugins"


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    with configured_cloud(DESCRIPTION, tmp_path_factory.mktemp("cloud")) as name:
        view = fetch_cloud(name)
    return assemble("lab", FACTS, view)


@pytest.fixture(scope="module")
def checks(inventory):
    plan = build_checks("lab", inventory.objects, inventory.links, MonitoringSettings())
    return {spec.object_id: spec for spec in plan.checks}


def options(argv):
    """A plugin call's options as {option: [values]} (repeated options in order)."""
    found = {}
    for option, value in zip(argv[2::2], argv[3::2], strict=True):
        found.setdefault(option, []).append(value)
    return found


def monitored(objects):
    """The objects that must get a check: every object of a monitored type, except a vservice's
    vnics (their vservice's check covers them)."""
    return [o for o in objects if o["type"] in MONITORED_TYPES
            and not (o["type"] == "vnic" and o["attributes"]["side"] == "vservice")]


def test_every_monitored_object_gets_exactly_one_check(inventory):
    plan = build_checks("lab", inventory.objects, inventory.links, MonitoringSettings())
    expected = monitored(inventory.objects)
    assert sorted(spec.object_id for spec in plan.checks) == sorted(o["id"] for o in expected)
    assert {o["type"] for o in expected} == set(MONITORED_TYPES)
    assert len([o for o in expected if o["type"] == "instance"]) == len(DESCRIPTION["servers"])
    assert {(s.object_type, s.reason) for s in plan.skipped} == {
        ("vnic", "a vservice's vnic: covered by the vservice's check")}


def test_plugin_calls_follow_the_labs_layouts(inventory, checks):
    objects = {o["id"]: o for o in inventory.objects}
    tunnel_ips = {h["tunnel_ip"] for h in DESCRIPTION["hosts"]}
    for spec in checks.values():
        obj = objects[spec.object_id]
        plugin = f"{PLUGINS}/check_{spec.object_type}.py"
        assert spec.command_argv[:2] == ["/usr/bin/python3", plugin]
        opts = options(spec.command_argv)
        attributes = obj["attributes"]
        if spec.object_type == "vnic":
            port = PORTS[attributes["port_id"]]
            layout = HOSTS[obj["host"]]["layout"]
            assert opts["--device"] == [port["devices"]["tap"]]
            if layout == "ovs-native":
                local_vlan = HOSTS[obj["host"]]["local_vlans"][port["network_id"]]
                assert opts == {"--device": [obj["name"]], "--ovs-bridge": ["br-int"],
                                "--tag": [str(local_vlan)]}
            elif layout == "ovs-hybrid":
                local_vlan = HOSTS[obj["host"]]["local_vlans"][port["network_id"]]
                assert opts == {"--device": [obj["name"]], "--bridge": [port["devices"]["qbr"]],
                                "--ovs-port": [port["devices"]["qvo"]],
                                "--ovs-bridge": ["br-int"], "--tag": [str(local_vlan)]}
                assert opts["--bridge"] == [f"qbr{port['id'][:11]}"]
                assert opts["--ovs-port"] == [f"qvo{port['id'][:11]}"]
            else:
                assert layout == "linuxbridge"
                assert opts["--bridge"] == [port["devices"]["bridge"]]
                assert opts["--bridge"] == [f"brq{port['network_id'][:11]}"]
        elif spec.object_type == "otep":
            host = HOSTS[obj["host"]]
            assert opts == {"--local-ip": [host["tunnel_ip"]],
                            "--remote": sorted(tunnel_ips - {host["tunnel_ip"]}),
                            "--warning-ms": ["50"], "--critical-ms": ["200"]}
        elif spec.object_type == "vconnector":
            assert opts == {"--bridge": [obj["name"]],
                            "--member": attributes["members"]}
            assert len(attributes["members"]) == 2
        elif spec.object_type == "vedge":
            assert obj["id"] == HOSTS[obj["host"]]["system_id"]
            assert opts == {"--switch": ["ovs"]}
        elif spec.object_type == "host_pnic":
            assert opts == {"--device": [obj["name"]]}
            assert obj["name"] in {n["name"] for n in HOSTS[obj["host"]]["nics"]}
        elif spec.object_type == "vservice":
            namespace = attributes["namespace"]
            dhcp = {"--process": ["dnsmasq"]} if namespace.startswith("qdhcp-") else {}
            assert opts == {"--namespace": [namespace], **dhcp}
        if spec.object_type != "instance":
            assert spec.host == obj["host"]


def test_instances_are_checked_from_their_networks_dhcp_namespace(checks):
    for server in DESCRIPTION["servers"]:
        spec = checks[server["id"]]
        port = PORTS[server["port_ids"][0]]
        namespace = f"qdhcp-{port['network_id']}"
        dhcp_host = next(p["binding:host_id"] for p in DESCRIPTION["ports"]
                         if p["devices"].get("namespace") == namespace)
        assert options(spec.command_argv) == {
            "--namespace": [namespace], "--ip": [port["fixed_ips"][0]["ip_address"]],
            "--mac": [port["mac_address"]]}
        assert spec.command_argv[1] == f"{PLUGINS}/check_instance.py"
        # run where the namespace is, reported as the instance on its own host
        assert (spec.host, spec.subscription) == (dhcp_host, f"calipso-host-{dhcp_host}")
        assert spec.labels["calipso_host"] == server["host"] != dhcp_host


def test_names_subscriptions_and_labels(inventory, checks):
    assert len({spec.name for spec in checks.values()}) == len(checks)
    for spec in checks.values():
        assert DNS_LABEL.match(spec.name), spec.name
        assert spec.name == spec.proxy_entity == check_name(spec.object_type, spec.object_id)
        assert spec.name.startswith(f"calipso-{spec.object_type.replace('_', '-')}-")
        assert spec.subscription == f"calipso-host-{spec.host}"
        assert spec.labels["calipso_object_id"] == spec.object_id
        assert spec.labels["calipso_object_type"] == spec.object_type
        assert spec.labels["calipso_environment"] == "lab"
        assert (spec.interval, spec.timeout) == (60, 30)
    # the name is the object's: another scan, or objects listed in another order, keep it
    again = build_checks("lab", list(reversed(inventory.objects)), inventory.links,
                         MonitoringSettings())
    assert {s.object_id: s.name for s in again.checks} == \
        {s.object_id: s.name for s in checks.values()}
    assert check_name("host_pnic", "x" * 500) == check_name("host_pnic", "x" * 500)
    assert len(check_name("a_very_long_operator_defined_type" * 3, "id")) <= 63


def test_without_the_cloud_only_instances_lose_their_checks(inventory, checks):
    host_only = assemble("lab", FACTS)
    plan = build_checks("lab", host_only.objects, host_only.links, MonitoringSettings())
    assert {s.object_id: s.command_argv for s in plan.checks} == \
        {i: s.command_argv for i, s in checks.items() if s.object_type != "instance"}
    # OVS names its VMs (vm-uuid): those are known, but without their ports' addresses
    instances = [o["id"] for o in host_only.objects if o["type"] == "instance"]
    assert len(instances) == sum(s["layout"] != "linuxbridge" for s in DESCRIPTION["servers"])
    assert sorted(s.object_id for s in plan.skipped if "cloud's view" in s.reason) == instances


def test_settings_shape_the_checks(inventory):
    settings = MonitoringSettings(intervals={"otep": 120}, timeouts={"otep": 90},
                                  otep_warning_ms=20, otep_critical_ms=80,
                                  plugin_dir="/opt/calipso/plugins", python="/usr/bin/python3.11")
    plan = build_checks("lab", inventory.objects, inventory.links, settings)
    for spec in plan.checks:
        assert spec.command_argv[:2] == ["/usr/bin/python3.11",
                                         f"/opt/calipso/plugins/check_{spec.object_type}.py"]
        if spec.object_type == "otep":
            assert (spec.interval, spec.timeout) == (120, 90)
            assert options(spec.command_argv)["--warning-ms"] == ["20"]
            assert options(spec.command_argv)["--critical-ms"] == ["80"]
        else:
            assert (spec.interval, spec.timeout) == (60, 30)


@pytest.mark.parametrize("kwargs, problem", [
    ({"target": "nagios"}, "target must be one of"),
    ({"interval": 0}, "interval must be a positive integer"),
    ({"timeouts": {"vnic": 90}}, "timeout of vnic checks (90s) exceeds their interval"),
    ({"otep_warning_ms": 200}, "warning below critical"),
    ({"handler": "calipso handler"}, "handler name"),
    ({"store": "mongodb://calipso:s3cret@db:27017/calipso"}, "holds a password"),
    ({"plugin_dir": "plugins"}, "absolute paths"),
])
def test_bad_settings_are_refused(kwargs, problem):
    with pytest.raises(MonitoringError) as error:
        MonitoringSettings(**kwargs)
    assert problem in str(error.value)
    assert "s3cret" not in str(error.value)


@pytest.mark.parametrize("target", TARGETS)
def test_every_rendered_document_is_valid_and_commands_are_shell_safe(inventory, target):
    rendered = render("lab", inventory.objects, inventory.links,
                      MonitoringSettings(target=target))
    argv = {spec.name: spec.command_argv for spec in rendered.checks}
    assert len(argv) == len(monitored(inventory.objects))
    docs = {**rendered.backend, **{f"{host}/{path}": doc for host, agent in
                                   rendered.agents.items() for path, doc in agent.files.items()}}
    commands = {}
    for path, doc in docs.items():
        if target == "sensu-classic":
            assert validate_classic_document(doc) == [], path
            for name, check in doc.get("checks", {}).items():
                commands.setdefault(name, set()).add(check["command"])
                assert check["source"] == name
        elif path.endswith("agent.yml"):
            assert validate_agent_config(doc) == [], path
        else:
            assert validate_go_resource(doc) == [], path
            if doc["type"] == "CheckConfig":
                commands.setdefault(doc["metadata"]["name"], set()).add(doc["spec"]["command"])
    assert {name: [shlex.split(c) for c in found] for name, found in commands.items()} == \
        {name: [command] for name, command in argv.items()}
    # each host's agent gets exactly the checks it runs, under its own subscription
    hosts = sorted(HOSTS)
    assert sorted(rendered.agents) == hosts
    for host, agent in rendered.agents.items():
        assert agent.subscriptions == [f"calipso-host-{host}"]
        assert [s.name for s in agent.checks] == \
            [s.name for s in rendered.checks if s.host == host]
    assert sum(len(agent.checks) for agent in rendered.agents.values()) == len(argv)


def test_sensu_go_resources(inventory):
    rendered = render("lab", inventory.objects, inventory.links, MonitoringSettings())
    kinds = {}
    for doc in rendered.backend.values():
        kinds.setdefault(doc["type"], []).append(doc)
    assert [len(kinds[k]) for k in ("CheckConfig", "Entity", "Handler", "EventFilter")] == \
        [len(rendered.checks), len(rendered.checks), 1, 1]
    entities = {e["metadata"]["name"]: e for e in kinds["Entity"]}
    for check in kinds["CheckConfig"]:
        spec = check["spec"]
        entity = entities[spec["proxy_entity_name"]]
        assert entity["spec"] == {"entity_class": "proxy", "subscriptions": []}
        assert entity["metadata"]["labels"] == check["metadata"]["labels"]
        assert spec["handlers"] == ["calipso"] and spec["publish"] is True
        assert spec["output_metric_format"] == "nagios_perfdata"
    handler = kinds["Handler"][0]["spec"]
    assert handler["type"] == "pipe" and handler["filters"] == ["calipso-state-changes"]
    assert shlex.split(handler["command"]) == [
        "calipso-sensu-handler", "--store", "/var/lib/calipso/inventory.db",
        "--environment", "lab"]
    agent = rendered.agents["compute1"].files["agent.yml"]
    assert agent["labels"] == {"calipso_environment": "lab", "calipso_host": "compute1",
                               "calipso_object_id": "compute1", "calipso_object_type": "host"}
    # without a store, the handler uses its own $CALIPSO_STORE (credentials stay on the backend)
    bare = render("lab", inventory.objects, inventory.links, MonitoringSettings(store=None))
    assert "--store" not in bare.backend["handlers/calipso.json"]["spec"]["command"]


def test_sensu_classic_configuration(inventory):
    rendered = render("lab", inventory.objects, inventory.links,
                      MonitoringSettings(target="sensu-classic"))
    for path, doc in rendered.backend.items():
        assert "password" not in json.dumps(doc), path
    assert rendered.backend["conf.d/transport.json"] == {
        "transport": {"name": "rabbitmq", "reconnect_on_error": True}}
    assert rendered.backend["conf.d/rabbitmq.json"] == {"rabbitmq": {
        "host": "127.0.0.1", "port": 5672, "vhost": "/sensu", "user": "sensu"}}
    controller = rendered.agents["controller"]
    client = controller.files["conf.d/client.json"]["client"]
    assert client["subscriptions"] == ["calipso-host-controller"] and client["safe_mode"]
    # safe mode: the client holds the definition of every check it runs, and of no other
    local = {name for path, doc in controller.files.items() if path.startswith("conf.d/checks/")
             for name in doc["checks"]}
    assert local == {s.name for s in rendered.checks if s.host == "controller"}
    check = rendered.backend[f"conf.d/checks/{controller.checks[0].name}.json"]["checks"]
    for definition in check.values():
        assert definition["type"] == "metric" and definition["standalone"] is False
        assert definition["calipso_object_id"] == controller.checks[0].object_id
    # with the connection left to $RABBITMQ_URL, no rabbitmq.json overrides it
    bare = render("lab", inventory.objects, inventory.links,
                  MonitoringSettings(target="sensu-classic", rabbitmq=None))
    assert "conf.d/rabbitmq.json" not in bare.backend
    assert all("conf.d/rabbitmq.json" not in a.files for a in bare.agents.values())


def _parsed(files):
    return {path: yaml.safe_load(text) if path.endswith(".yml") else json.loads(text)
            for path, text in files.items()}


@pytest.mark.parametrize("target", TARGETS)
def test_golden_files(inventory, target):
    """The lab's rendering, reviewed once; UPDATE_GOLDEN=1 rewrites it (see the README there)."""
    rendered = render("lab", inventory.objects, inventory.links,
                      MonitoringSettings(target=target))
    files = files_of(rendered)
    assert files == files_of(render("lab", inventory.objects, inventory.links,
                                    MonitoringSettings(target=target)))
    golden = GOLDEN_DIR / f"{target}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(_parsed(files), indent=1, sort_keys=True) + "\n")
    assert _parsed(files) == json.loads(golden.read_text())


def test_write_files_replaces_its_own_output_only(inventory, tmp_path):
    settings = MonitoringSettings()
    rendered = render("lab", inventory.objects, inventory.links, settings)
    out = tmp_path / "monitoring" / "lab"
    written = write_files(rendered, out)
    assert written == sorted(written) and len(written) == len(files_of(rendered))
    on_disk = {str(p.relative_to(out)): p.read_text() for p in out.rglob("*") if p.is_file()
               and p.name != ".calipso-monitoring"}
    assert on_disk == files_of(rendered)
    # an object gone from the inventory leaves no resource behind to be applied again
    gone = next(s for s in rendered.checks if s.object_type == "vnic")
    fewer = render("lab", [o for o in inventory.objects if o["id"] != gone.object_id],
                   inventory.links, settings)
    write_files(fewer, out)
    assert not (out / "backend" / "checks" / f"{gone.name}.json").exists()
    assert (out / "backend" / "handlers" / "calipso.json").exists()
    assert [p.name for p in tmp_path.joinpath("monitoring").iterdir()] == ["lab"]
    foreign = tmp_path / "elsewhere"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(MonitoringError):
        write_files(rendered, foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def _edited(inventory, object_id, change):
    objects = copy.deepcopy(inventory.objects)
    change(next(o for o in objects if o["id"] == object_id))
    return build_checks("lab", objects, inventory.links, MonitoringSettings())


def test_what_cannot_be_checked_is_skipped_with_a_reason(inventory, checks):
    vnic = next(s for s in checks.values() if s.object_type == "vnic").object_id
    for name, reason in (("tap{{ .secret }}", "Sensu token"), ("-rf", "as an option")):
        plan = _edited(inventory, vnic, lambda o, name=name: o.update(name=name))
        assert vnic not in {s.object_id for s in plan.checks}
        assert any(s.object_id == vnic and reason in s.reason for s in plan.skipped)
    bridge = next(s for s in checks.values() if s.object_type == "vconnector").object_id
    plan = _edited(inventory, bridge,
                   lambda o: o["attributes"].update(kind="vpp_bridge_domain"))
    assert any(s.object_id == bridge and "VPP bridge domain" in s.reason for s in plan.skipped)
    otep = next(s for s in checks.values() if s.object_type == "otep").object_id
    plan = _edited(inventory, otep, lambda o: o["attributes"].update(remote_ips=[]))
    assert any(s.object_id == otep and "no remote" in s.reason for s in plan.skipped)
    vedge = next(s for s in checks.values() if s.object_type == "vedge").object_id
    plan = _edited(inventory, vedge, lambda o: o["attributes"].update(switch="vpp"))
    assert options(next(s for s in plan.checks if s.object_id == vedge).command_argv) == \
        {"--switch": ["vpp"]}
    # an instance whose network has no DHCP service in the inventory
    objects = [o for o in inventory.objects
               if not (o["type"] == "vservice" and o["attributes"]["service_type"] == "dhcp")]
    plan = build_checks("lab", objects, inventory.links, MonitoringSettings())
    assert {s.object_id for s in plan.skipped if "no DHCP service" in s.reason} == \
        {s["id"] for s in DESCRIPTION["servers"]}


def test_render_refuses_hosts_sensu_cannot_tell_apart(inventory):
    objects = copy.deepcopy(inventory.objects)
    objects.append({**next(o for o in objects if o["type"] == "host"), "id": "compute 1",
                    "host": "compute 1"})
    objects.append({**next(o for o in objects if o["type"] == "host"), "id": "compute-1",
                    "host": "compute-1"})
    with pytest.raises(MonitoringError, match="same Sensu name"):
        render("lab", objects, inventory.links, MonitoringSettings())


def _go_check(**spec):
    return {"type": "CheckConfig", "api_version": "core/v2",
            "metadata": {"name": "calipso-vnic-0123456789ab", "namespace": "default",
                         "labels": {"calipso_object_id": "x"}, "annotations": {}},
            "spec": {"command": "check", "interval": 60, "timeout": 30, "publish": True,
                     "subscriptions": ["calipso-host-a"], "handlers": ["calipso"], **spec}}


@pytest.mark.parametrize("doc, problem", [
    ({**_go_check(), "metadata": {"name": "bad name", "namespace": "default"}},
     "metadata.name 'bad name' may hold only"),
    ({**_go_check(), "metadata": {"name": "ok"}}, "metadata.namespace is required"),
    ({**_go_check(), "api_version": "core/v3"}, "api_version must be core/v2"),
    ({**_go_check(), "type": "Check"}, "type must be one of"),
    (_go_check(interval=0), "interval must be an integer from 1"),
    (_go_check(interval="60"), "interval must be an integer"),
    (_go_check(interval=True), "interval must be an integer"),
    (_go_check(timeout=-1), "timeout must be an integer from 0"),
    (_go_check(handlers="calipso"), "handlers must be a list of strings"),
    (_go_check(handlers=["a handler"]), "handlers entry 'a handler' is not a Sensu name"),
    (_go_check(subscriptions=[]), "subscriptions must not be empty"),
    (_go_check(subscribers=["a"]), "subscribers is not a field Sensu Go knows"),
    (_go_check(command=""), "command must not be empty"),
    (_go_check(proxy_entity_name="a/b"), "proxy_entity_name 'a/b' may hold only"),
    (_go_check(output_metric_format="json"), "output_metric_format must be one of"),
    (_go_check(ttl=30), "ttl must be greater than the interval"),
    (_go_check(publish="yes"), "publish must be true or false"),
    (_go_check(cron="* * * * *"), "interval must not be set with a cron schedule"),
    (_go_check(env_vars=["NOEQUALS"]), "must read KEY=VALUE"),
    ({"type": "Entity", "api_version": "core/v2",
      "metadata": {"name": "e", "namespace": "default"}, "spec": {"subscriptions": []}},
     "entity_class is required"),
    ({"type": "Entity", "api_version": "core/v2",
      "metadata": {"name": "e", "namespace": "default", "labels": {"k": 1}},
      "spec": {"entity_class": "proxy"}}, "labels must map non-empty strings to strings"),
    ({"type": "Handler", "api_version": "core/v2",
      "metadata": {"name": "h", "namespace": "default"}, "spec": {"type": "pipe"}},
     "command is required"),
    ({"type": "Handler", "api_version": "core/v2",
      "metadata": {"name": "h", "namespace": "default"}, "spec": {"type": "exec"}},
     "type must be pipe, set, tcp, udp or grpc"),
    ({"type": "Handler", "api_version": "core/v2",
      "metadata": {"name": "h", "namespace": "default"},
      "spec": {"type": "tcp", "socket": {"host": "h", "port": 0}}}, "socket.port"),
    ({"type": "EventFilter", "api_version": "core/v2",
      "metadata": {"name": "f", "namespace": "default"},
      "spec": {"action": "maybe", "expressions": ["true"]}}, "action must be allow or deny"),
    ({"type": "EventFilter", "api_version": "core/v2",
      "metadata": {"name": "f", "namespace": "default"},
      "spec": {"action": "allow", "expressions": []}}, "expressions must not be empty"),
    ([], "must be a mapping"),
])
def test_go_validator_catches_what_sensu_refuses(doc, problem):
    found = validate_go_resource(doc)
    assert any(problem in p for p in found), found


def test_go_agent_config_validator():
    good = {"name": "compute1", "namespace": "default", "subscriptions": ["calipso-host-c1"],
            "labels": {"calipso_host": "compute1"}}
    assert validate_agent_config(good) == []
    assert validate_agent_config({**good, "subscriptions": ["a b"]})
    assert validate_agent_config({**good, "name": "compute/1"})
    assert validate_agent_config({k: v for k, v in good.items() if k != "namespace"})


def _classic_check(**fields):
    return {"checks": {"calipso-otep-0123456789ab": {
        "command": "check", "subscribers": ["calipso-host-a"], "interval": 60, "timeout": 30,
        "handlers": ["calipso"], "source": "calipso-otep-0123456789ab", "type": "metric",
        **fields}}}


@pytest.mark.parametrize("doc, problem", [
    ({"checks": {"bad name": _classic_check()["checks"]["calipso-otep-0123456789ab"]}},
     "name may hold only"),
    (_classic_check(interval=0), "interval must be an integer greater than 0"),
    (_classic_check(interval=60.0), "interval must be an integer greater than 0"),
    (_classic_check(subscribers="calipso-host-a"), "subscribers must be an array of strings"),
    (_classic_check(handlers="calipso"), "handlers must be an array of strings"),
    (_classic_check(source="a b"), "source must be a name"),
    (_classic_check(extension="x"), "either command or extension must be set"),
    (_classic_check(timeout="30"), "timeout must be numeric"),
    (_classic_check(standalone="no"), "standalone must be boolean"),
    (_classic_check(ttl=0), "ttl must be an integer greater than 0"),
    (_classic_check(type="passive"), "type must be standard or metric"),
    (_classic_check(low_flap_threshold=10), "high_flap_threshold must be an integer"),
    ({"client": {"name": "c1", "address": "c1", "subscriptions": "all"}},
     "subscriptions must be an array of strings"),
    ({"client": {"name": "c 1", "address": "c1", "subscriptions": []}}, "name must be a name"),
    ({"client": {"name": "c1", "subscriptions": []}}, "address must be a string"),
    ({"client": {"name": "c1", "address": "c1", "subscriptions": [], "safe_mode": "yes"}},
     "safe_mode must be boolean"),
    ({"client": {"name": "c1", "address": "c1", "subscriptions": [],
                 "keepalive": {"thresholds": {"warning": "2m"}}}},
     "keepalive thresholds must be a hash of integers"),
    ({"transport": {"name": "kafka"}}, "transport: name must be one of"),
    ({"transport": {"name": "rabbitmq", "reconnect_on_error": "yes"}},
     "reconnect_on_error must be boolean"),
    ({"rabbitmq": {"host": "mq", "port": 5672, "user": "sensu", "password": "secret"}},
     "password must not be written"),
    ({"rabbitmq": {"host": "mq", "port": "5672"}}, "port must be a port number"),
    ({"handlers": {"calipso": {"type": "pipe"}}}, "command must be a string"),
    ({"handlers": {"calipso": {"type": "exec", "command": "x"}}}, "type must be one of"),
    ({"handlers": {"calipso": {"type": "pipe", "command": "x", "severities": ["fatal"]}}},
     "severities must be among"),
    ({"handlers": {"calipso": {"type": "pipe", "command": "x", "filters": "f"}}},
     "filters must be an array of strings"),
    ({"redis": {"host": "r"}}, "not a settings category Calipso renders"),
    ({}, "non-empty hash"),
])
def test_classic_validator_catches_what_sensu_refuses(doc, problem):
    found = validate_classic_document(doc)
    assert any(problem in p for p in found), found


def test_valid_examples_pass_both_validators():
    assert validate_go_resource(_go_check()) == []
    assert validate_classic_document(_classic_check()) == []
