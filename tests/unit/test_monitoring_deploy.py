"""From the stored inventory to the rendered directory the roles deploy: operators' settings
checked, the directory rewritten only when a file differs, objects that vanished taking their
files with them, and nothing rendered for an environment the store does not hold."""

from __future__ import annotations

from pathlib import Path

import mongomock
import pytest

from calipso_core.discovery.assemble import assemble
from calipso_core.monitoring.checks import MonitoringError, RabbitMQSettings
from calipso_core.monitoring.deploy import render_to_directory, settings_from_mapping
from calipso_core.store import MongoStore
from tests.recorded_lab import recorded_facts

Doc = dict


@pytest.fixture
def store() -> MongoStore:
    inventory = assemble("lab", recorded_facts(), None)
    store = MongoStore(mongomock.MongoClient()["calipso"])
    commit(store, inventory.objects, inventory.links)
    return store


def commit(store: MongoStore, objects: list[Doc], links: list[Doc]) -> None:
    with store.begin_scan("lab") as scan:
        scan.write("objects", objects)
        scan.write("links", links)


def test_settings_from_an_operators_mapping() -> None:
    settings = settings_from_mapping({"target": "sensu-classic", "intervals": {"otep": 30},
                                      "rabbitmq": {"host": "mq.example", "port": 5671}})
    assert settings.target == "sensu-classic"
    assert settings.interval_for("otep") == 30 and settings.interval_for("vnic") == 60
    assert settings.rabbitmq == RabbitMQSettings(host="mq.example", port=5671)
    assert settings_from_mapping({"rabbitmq": None}).rabbitmq is None
    assert settings_from_mapping(None) == settings_from_mapping({})


@pytest.mark.parametrize(("values", "message"), [
    ({"intervall": 30}, "unknown monitoring settings: intervall"),
    ({"target": "nagios"}, "target must be one of sensu-go, sensu-classic"),
    ({"interval": "60"}, "interval must be a positive integer"),
    ({"intervals": [30]}, "intervals must be a mapping"),
    ({"rabbitmq": {"password": "s3cret"}}, "rabbitmq.password does not belong"),
    ({"rabbitmq": {"hots": "mq"}}, "unknown rabbitmq settings: hots"),
    ({"rabbitmq": {"port": "5672"}}, "rabbitmq.port must be a TCP port"),
    ({"rabbitmq": {"vhost": ""}}, "rabbitmq vhost must be non-empty strings"),
    ({"rabbitmq": "amqp://mq"}, "rabbitmq must be a mapping"),
])
def test_bad_settings_are_refused_clearly(values: Doc, message: str) -> None:
    with pytest.raises(MonitoringError, match=message) as raised:
        settings_from_mapping(values)
    assert "s3cret" not in str(raised.value)


def test_a_second_render_changes_nothing(store: MongoStore, tmp_path: Path) -> None:
    out = tmp_path / "lab"
    first = render_to_directory(store, "lab", settings_from_mapping({}), out)
    assert first.written and first.added and not (first.changed or first.removed)
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert any(str(p).endswith("agents/compute1/agent.yml") for p in files)
    again = render_to_directory(store, "lab", settings_from_mapping({}), out)
    assert not again.differs and not again.written
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files


def test_a_changed_setting_and_a_vanished_object_are_what_changes(store: MongoStore,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "lab"
    first = render_to_directory(store, "lab", settings_from_mapping({}), out)
    objects = store.find("objects", "lab")
    gone = next(o for o in objects if o["type"] == "host_pnic")
    commit(store, [o for o in objects if o["id"] != gone["id"]],
           [x for x in store.find("links", "lab") if gone["id"] not in
            (x["source_id"], x["target_id"])])
    after = render_to_directory(store, "lab", settings_from_mapping({"intervals": {"otep": 30}}),
                                out)
    otep_checks = {f"backend/checks/{s.name}.json" for s in first.rendered.checks
                   if s.object_type == "otep"}
    assert set(after.changed) == otep_checks
    gone_check = next(s.name for s in first.rendered.checks if s.object_id == gone["id"])
    assert set(after.removed) == {f"backend/checks/{gone_check}.json",
                                  f"backend/entities/{gone_check}.json"}
    assert not after.added and after.written
    assert not (out / f"backend/checks/{gone_check}.json").exists()


def test_a_dry_run_reports_and_writes_nothing(store: MongoStore, tmp_path: Path) -> None:
    out = tmp_path / "lab"
    result = render_to_directory(store, "lab", settings_from_mapping({}), out, dry_run=True)
    assert result.added and not result.written and not out.exists()


def test_switching_flavour_replaces_every_file(store: MongoStore, tmp_path: Path) -> None:
    out = tmp_path / "lab"
    go = render_to_directory(store, "lab", settings_from_mapping({}), out)
    classic = render_to_directory(store, "lab", settings_from_mapping(
        {"target": "sensu-classic"}), out)
    assert set(classic.removed) == set(go.added)
    assert all(path.endswith(".json") for path in classic.added)
    assert not list(out.rglob("agent.yml"))


def test_an_environment_never_discovered_renders_nothing(store: MongoStore,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "prod"
    with pytest.raises(MonitoringError, match="holds nothing for environment 'prod'"):
        render_to_directory(store, "prod", settings_from_mapping({}), out)
    assert not out.exists()


def test_a_directory_of_someone_elses_files_is_refused(store: MongoStore,
                                                      tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0\n")
    with pytest.raises(MonitoringError, match="holds files Calipso did not write"):
        render_to_directory(store, "lab", settings_from_mapping({}), tmp_path / "etc")
    assert (tmp_path / "etc" / "passwd").read_text() == "root:x:0:0\n"
