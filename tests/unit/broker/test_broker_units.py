"""Unit tests of newswatch.broker, no broker: config rendering, client kwargs, topic specs, CLI edges."""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from newswatch.broker import clients, errors, local, main, topics
from newswatch.broker.clients import (
    admin_config,
    consumer_config,
    faust_app_config,
    kafka_python_config,
    producer_config,
    ssl_context,
)
from newswatch.broker.errors import BrokerError, BrokerStartError, ClientConfigError, KafkaJarsError
from newswatch.broker.local import (
    LocalKafka,
    LocalKafkaConfig,
    default_jars_dir,
    fetch_jars,
    jars_present,
    kafka_version,
    render_log4j2_properties,
    render_server_properties,
)
from newswatch.broker.topics import TopicSpec, declared_topics
from newswatch.settings import KafkaSettings, Settings

SYSTEM_CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


# --- package surface ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    ["newswatch.broker", "newswatch.broker.local", "newswatch.broker.clients", "newswatch.broker.topics"],
)
def test_all_names_exist(module: str) -> None:
    mod = importlib.import_module(module)
    assert mod.__all__ and all(hasattr(mod, name) for name in mod.__all__)


def test_every_error_derives_from_the_root() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), BrokerError)


# --- local broker config --------------------------------------------------------------------------------


def test_pom_pins_kafka_4_and_its_version_names_the_default_cache() -> None:
    version = kafka_version()
    assert version.split(".")[0] == "4"
    assert default_jars_dir(version) == Path.home() / ".cache" / "newswatch" / f"kafka-{version}" / "lib"


def test_kafka_version_without_property_is_a_jars_error(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>", encoding="utf-8")
    with pytest.raises(KafkaJarsError, match=r"kafka\.version"):
        kafka_version(pom)
    with pytest.raises(KafkaJarsError, match="cannot read"):
        kafka_version(tmp_path / "missing.xml")


def test_config_from_settings_maps_local_fields(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        kafka=KafkaSettings(
            local_port=19092, local_controller_port=19093, local_heap_mb=256, local_jars_dir=tmp_path
        ),
    )
    config = LocalKafkaConfig.from_settings(settings)
    assert config.state_dir == (tmp_path / "kafka").resolve()
    assert (config.port, config.controller_port, config.heap_mb, config.jars_dir) == (
        19092,
        19093,
        256,
        tmp_path,
    )
    assert config.bootstrap == "127.0.0.1:19092"
    assert config.log_path == config.state_dir / "logs" / "server.log"
    assert LocalKafka.from_settings(settings).bootstrap == "127.0.0.1:19092"


def test_with_free_ports_picks_two_different_ports(tmp_path: Path) -> None:
    config = LocalKafkaConfig(state_dir=tmp_path, jars_dir=tmp_path).with_free_ports()
    assert config.port != config.controller_port
    assert config.port not in (9092, 9093) or config.controller_port not in (9092, 9093)


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_server_properties_describe_one_kraft_node_on_loopback(tmp_path: Path) -> None:
    config = LocalKafkaConfig(state_dir=tmp_path, jars_dir=tmp_path, port=29092, controller_port=29093)
    props = _properties(render_server_properties(config))
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"


def test_log4j_config_sends_everything_to_stdout() -> None:
    text = render_log4j2_properties("WARN")
    assert "appender.out.type = Console" in text and "rootLogger.level = WARN" in text


def test_cluster_ids_are_22_url_safe_chars() -> None:
    ids = {local._new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 22 and not i.startswith("-") and "=" not in i for i in ids)


def _fake_jars(tmp_path: Path) -> Path:
    jars = tmp_path / "lib"
    jars.mkdir()
    (jars / "kafka_2.13-4.4.0.jar").write_bytes(b"")
    (jars / ".complete").write_text("4.4.0\n")
    return jars


def test_fetch_is_a_no_op_when_jars_are_cached(tmp_path: Path) -> None:
    jars = _fake_jars(tmp_path)
    assert jars_present(jars)
    assert fetch_jars(jars, mvn="no-such-mvn-binary") is False


def test_fetch_without_maven_says_so(tmp_path: Path) -> None:
    with pytest.raises(KafkaJarsError, match="Maven"):
        fetch_jars(tmp_path / "lib", mvn="no-such-mvn-binary")
    assert not (tmp_path / "lib").exists()


def test_start_without_jars_points_to_kafka_fetch(tmp_path: Path) -> None:
    kafka = LocalKafka(LocalKafkaConfig(state_dir=tmp_path / "kafka", jars_dir=tmp_path / "nothing"))
    with pytest.raises(KafkaJarsError, match="newswatch kafka fetch"):
        kafka.start()


def test_start_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        config = LocalKafkaConfig(state_dir=tmp_path / "kafka", jars_dir=_fake_jars(tmp_path), port=port)
        with pytest.raises(BrokerStartError, match="already in use"):
            LocalKafka(config).start()


def test_start_without_java_says_so(tmp_path: Path) -> None:
    config = LocalKafkaConfig(
        state_dir=tmp_path / "kafka", jars_dir=_fake_jars(tmp_path), java="no-such-java"
    )
    with pytest.raises(BrokerStartError, match="Java"):
        LocalKafka(config).start()


def test_stale_or_foreign_pid_file_means_not_running(tmp_path: Path) -> None:
    kafka = LocalKafka(LocalKafkaConfig(state_dir=tmp_path / "kafka", jars_dir=tmp_path))
    assert kafka.pid() is None and not kafka.is_running()
    kafka.config.pid_path.parent.mkdir(parents=True)
    kafka.config.pid_path.write_text(f"{os.getpid()}\n")  # alive, but pytest is not our broker
    assert kafka.pid() is None
    kafka.config.pid_path.write_text("not a pid\n")
    assert kafka.pid() is None
    assert kafka.stop() is False
    assert not kafka.config.pid_path.exists()


# --- client factories -----------------------------------------------------------------------------------


def _accepted(cls: Any) -> set[str]:
    if hasattr(cls, "DEFAULT_CONFIG"):
        return set(cls.DEFAULT_CONFIG)
    return set(inspect.signature(cls.__init__).parameters)


SCRAM = KafkaSettings(
    bootstrap_servers="b1:9093, b2:9093",
    security_protocol="SASL_SSL",
    sasl_mechanism="SCRAM-SHA-512",
    sasl_username="svc",
    sasl_password=SecretStr("s3cret"),
    ssl_cafile=SYSTEM_CA,
)


@pytest.mark.parametrize(
    ("settings", "ssl_keys", "sasl"),
    [
        (KafkaSettings(), False, None),
        (KafkaSettings(security_protocol="SSL", ssl_cafile=SYSTEM_CA, ssl_check_hostname=False), True, None),
        (
            KafkaSettings(
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="PLAIN",
                sasl_username="u",
                sasl_password=SecretStr("p"),
            ),
            False,
            "PLAIN",
        ),
        (SCRAM, True, "SCRAM-SHA-512"),
    ],
)
def test_kafka_python_kwargs_per_protocol(settings: KafkaSettings, ssl_keys: bool, sasl: str | None) -> None:
    config = kafka_python_config(settings)
    assert config["security_protocol"] == settings.security_protocol
    assert config["bootstrap_servers"] == [s.strip() for s in settings.bootstrap_servers.split(",")]
    assert config.get("sasl_mechanism") == sasl
    if sasl:
        assert config["sasl_plain_username"] == settings.sasl_username
        assert settings.sasl_password is not None
        assert config["sasl_plain_password"] == settings.sasl_password.get_secret_value()
    # TLS is one SSLContext, the one faust gets too
    assert isinstance(config.get("ssl_context"), ssl.SSLContext) is ssl_keys
    assert not any(key.startswith("ssl_") and key != "ssl_context" for key in config)
    if ssl_keys:
        assert config["ssl_context"].check_hostname is settings.ssl_check_hostname


def test_bootstrap_list_splits_and_trims() -> None:
    assert clients.bootstrap_list(SCRAM) == ["b1:9093", "b2:9093"]
    with pytest.raises(ClientConfigError, match="empty"):
        clients.bootstrap_list(KafkaSettings(bootstrap_servers=" , "))


def test_kwargs_are_accepted_by_the_client_constructors() -> None:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    assert set(producer_config(SCRAM)) <= _accepted(KafkaProducer)
    assert set(consumer_config(SCRAM, "g")) <= _accepted(KafkaConsumer)
    assert set(admin_config(SCRAM)) <= _accepted(KafkaAdminClient)


def test_producer_config_is_durable_and_compressed() -> None:
    config = producer_config(KafkaSettings())
    assert config["acks"] == "all" and config["enable_idempotence"] is True
    assert config["compression_type"] == "gzip" and config["retries"] > 0
    assert config["max_in_flight_requests_per_connection"] <= 5  # idempotence needs <= 5
    assert config["max_request_size"] == 1024 * 1024


def test_overrides_replace_options_and_keep_the_rest() -> None:
    config = producer_config(KafkaSettings(), max_request_size=4 * 1024 * 1024, linger_ms=0)
    assert (config["max_request_size"], config["linger_ms"], config["acks"]) == (4 * 1024 * 1024, 0, "all")
    consumer = consumer_config(KafkaSettings(), None, auto_offset_reset="latest")
    assert consumer["auto_offset_reset"] == "latest" and consumer["enable_auto_commit"] is False
    assert admin_config(KafkaSettings(), bootstrap_timeout_ms=1_500)["bootstrap_timeout_ms"] == 1_500


def test_consumers_commit_manually_from_earliest() -> None:
    config = consumer_config(KafkaSettings(), "g")
    assert config["group_id"] == "g"
    assert config["enable_auto_commit"] is False and config["auto_offset_reset"] == "earliest"


def test_factories_build_clients_from_the_settings() -> None:
    """The factories pass the settings' options to kafka-python (which then fails to bootstrap here)."""
    from kafka.errors import KafkaError

    dead = KafkaSettings(bootstrap_servers="127.0.0.1:1", request_timeout_ms=1_000)
    for build in (
        lambda: clients.kafka_admin(dead, bootstrap_timeout_ms=300),
        lambda: clients.kafka_producer(dead, bootstrap_timeout_ms=300),
        lambda: clients.kafka_consumer(dead, "t", group_id=None, bootstrap_timeout_ms=300),
    ):
        with pytest.raises(KafkaError):
            build()
    with pytest.raises(ClientConfigError, match="needs sasl_mechanism"):
        clients.kafka_producer(KafkaSettings(security_protocol="SASL_PLAINTEXT"))


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"security_protocol": "SASL_PLAINTEXT"}, "needs sasl_mechanism"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u"}, "sasl_password"),
        ({"security_protocol": "SSL", "ssl_cafile": Path("/nonexistent/ca.pem")}, "TLS files"),
        ({"security_protocol": "SSL", "ssl_keyfile": Path("/k.pem")}, "without ssl_certfile"),
    ],
)
def test_inconsistent_security_settings_are_clear_errors(update: dict[str, Any], message: str) -> None:
    settings = KafkaSettings(**update)
    with pytest.raises(ClientConfigError, match=message):
        kafka_python_config(settings)
    with pytest.raises(ClientConfigError, match=message):
        faust_app_config(settings)


def test_no_ssl_context_for_plaintext() -> None:
    assert ssl_context(KafkaSettings()) is None


def test_faust_config_carries_credentials() -> None:
    import faust

    plain = faust_app_config(KafkaSettings(bootstrap_servers="h1:1,h2:2"))
    assert plain["broker"] == ["kafka://h1:1", "kafka://h2:2"] and plain["broker_credentials"] is None
    scram = faust_app_config(SCRAM)
    credentials = scram["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.mechanism.value == "SCRAM-SHA-512" and credentials.protocol.value == "SASL_SSL"
    tls = faust_app_config(KafkaSettings(security_protocol="SSL"))
    assert isinstance(tls["broker_credentials"], faust.SSLCredentials)
    app = faust.App("unit-broker-config", **scram, web_enabled=False)
    assert app.conf.producer_acks == -1 and app.conf.producer_compression_type == "gzip"


# --- topics ---------------------------------------------------------------------------------------------


def test_declared_topics_follow_settings_names_and_replication() -> None:
    settings = KafkaSettings(topic_articles="a", topic_alerts="al", topic_replication_factor=3)
    specs = {spec.name: spec for spec in declared_topics(settings)}
    assert list(specs) == ["a", "news.classified.v1", "al", "news.deadletter.v1"]
    assert all(spec.replication == 3 and spec.config["min.insync.replicas"] == "2" for spec in specs.values())
    local_specs = declared_topics(KafkaSettings())
    assert all(s.replication == 1 and s.config["min.insync.replicas"] == "1" for s in local_specs)


def test_topic_policies() -> None:
    articles, classified, alerts, dead = declared_topics(KafkaSettings())
    assert articles.partitions == classified.partitions  # co-partitioned by article id
    assert articles.key == classified.key == "article id" and alerts.key == "alert id"
    assert alerts.config["cleanup.policy"] == "compact,delete"
    assert dead.config["cleanup.policy"] == "delete"
    assert int(dead.config["retention.ms"]) > int(articles.config["retention.ms"])
    assert int(dead.config["max.message.bytes"]) > int(articles.config["max.message.bytes"])
    for spec in (articles, classified, alerts, dead):
        assert spec.schema.startswith("schemas/") and (Path(__file__).parents[3] / spec.schema).is_file()


def test_topic_spec_validates_and_is_immutable() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        TopicSpec("t", partitions=0, replication=1)
    spec = TopicSpec("t", 3, 1, {"retention.ms": "1"})
    with pytest.raises(TypeError):
        spec.config["retention.ms"] = "2"  # type: ignore[index]
    renamed = spec.with_name("u")
    assert (renamed.name, renamed.partitions, dict(renamed.config)) == ("u", 3, {"retention.ms": "1"})


# --- CLI ------------------------------------------------------------------------------------------------


def test_cli_arguments() -> None:
    parser = argparse.ArgumentParser()
    main.add_kafka_arguments(parser)
    assert parser.parse_args(["status"]).action == "status"
    with pytest.raises(SystemExit):
        parser.parse_args(["explode"])
    parser = argparse.ArgumentParser()
    main.add_topics_arguments(parser)
    assert parser.parse_args(["ensure"]).action == "ensure"


def test_status_of_a_stopped_broker_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(state_dir=tmp_path, kafka=KafkaSettings(local_jars_dir=tmp_path))
    assert main.run_kafka(argparse.Namespace(action="status", settings=settings)) == main.EXIT_STOPPED
    assert "Kafka stopped" in capsys.readouterr().out


def test_start_error_is_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        kafka = KafkaSettings(local_jars_dir=_fake_jars(tmp_path), local_port=listener.getsockname()[1])
        settings = Settings(state_dir=tmp_path, kafka=kafka)
        assert main.run_kafka(argparse.Namespace(action="start", settings=settings)) == 1
    assert "already in use" in capsys.readouterr().err


def test_topics_module_names_its_errors() -> None:
    assert topics.BrokerUnreachableError is errors.BrokerUnreachableError
