"""docker-compose.yml, deploy/k8s and the Dockerfile against the code: the services they run are real
``newswatch`` commands that parse, their ports are the settings' defaults, every NEWSWATCH_* variable is a
real settings field, and the Kafka image is the version the local broker uses."""

from __future__ import annotations

import argparse
import importlib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from newswatch.broker.topics import declared_topics
from newswatch.cli import COMMANDS
from newswatch.settings import KafkaSettings, Settings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
METRICS_PORTS = {
    "poll": Settings().poller.metrics_port,
    "worker": Settings().worker.metrics_port,
    "notify": Settings().notify.metrics_port,
    "serve": Settings().serve.port,
}
JOBS = {
    "poll": "newswatch-poller",
    "worker": "newswatch-worker",
    "notify": "newswatch-notify",
    "serve": "newswatch-serve",
}


def _k8s_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def _setting_exists(name: str) -> bool:
    """True when NEWSWATCH_A__B__C names a field of Settings (case-insensitive, dict keys allowed)."""
    if not name.startswith("NEWSWATCH_"):
        return False
    model: type[BaseModel] = Settings
    parts = name.removeprefix("NEWSWATCH_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        candidates = [a for a in (annotation, *get_args(annotation)) if isinstance(a, type)]
        nested = next((a for a in candidates if issubclass(a, BaseModel)), None)
        if nested is not None:
            if i + 1 == len(parts):
                return False  # a section, not a field
            model = nested
            continue
        if get_origin(annotation) is dict:
            return len(parts) - i in (1, 2)
        return i + 1 == len(parts)
    return False


def _parse_command(argv: list[str]) -> argparse.Namespace:
    name, rest = argv[0], argv[1:]
    assert name in COMMANDS, f"newswatch {name}: not a command in newswatch/cli.py"
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"newswatch {name}", exit_on_error=False)
    getattr(module, f"add_{name}_arguments")(parser)
    return parser.parse_args(rest)


def _newswatch_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in COMPOSE["services"].items() if str(s.get("image", "")).startswith("newswatch:")}


# ---------------------------------------------------------------------------------------------- compose
def test_compose_matches_its_schema() -> None:
    schema = json.loads((Path(__file__).parent / "compose.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    errors = sorted(Draft202012Validator(schema).iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_compose_runs_the_whole_stack() -> None:
    commands = {s["command"][0] for s in _newswatch_services().values()}
    assert commands == {"topics", "poll", "worker", "notify", "serve"}
    assert {"kafka", "prometheus", "grafana"} <= set(COMPOSE["services"])


@pytest.mark.parametrize("service", sorted(_newswatch_services()))
def test_compose_commands_are_real_entry_points(service: str) -> None:
    _parse_command(COMPOSE["services"][service]["command"])


@pytest.mark.parametrize("service", sorted(_newswatch_services()))
def test_compose_services_wait_for_kafka_and_restart(service: str) -> None:
    spec = COMPOSE["services"][service]
    assert spec["depends_on"]["kafka"]["condition"] == "service_healthy"
    if spec["command"][0] == "topics":
        assert spec["restart"] == "no"
    else:
        assert spec["restart"] == "unless-stopped"
        assert spec["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in spec


def test_compose_ports_match_settings_and_prometheus_targets() -> None:
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in PROMETHEUS["scrape_configs"]
    }
    for name, spec in _newswatch_services().items():
        command = spec["command"][0]
        if command not in METRICS_PORTS:
            continue
        port = METRICS_PORTS[command]
        assert spec["ports"] == [f"{port}:{port}"], name
        assert f"127.0.0.1:{port}/metrics" in " ".join(spec["healthcheck"]["test"]), name
        assert targets[JOBS[command]] == f"{name}:{port}", name


def test_every_environment_variable_is_a_setting() -> None:
    names: set[str] = set()
    for spec in COMPOSE["services"].values():
        names |= {n for n in spec.get("environment", {}) if n.startswith("NEWSWATCH_")}
    text = (ROOT / "docker-compose.yml").read_text()
    names |= set(re.findall(r"\b(NEWSWATCH_[A-Z0-9_]+)\s*:", text))  # commented examples too
    for doc in _k8s_docs():
        if doc["kind"] == "ConfigMap":
            names |= set(doc["data"])
        for container in _containers(doc):
            names |= {e["name"] for e in container.get("env", [])}
    names |= set(re.findall(r"\b(NEWSWATCH_[A-Z0-9_]+)=", (ROOT / "Dockerfile").read_text()))
    assert names, "no NEWSWATCH_ variables found"
    unknown = sorted(n for n in names if not _setting_exists(n))
    assert not unknown, f"not settings fields: {unknown}"


def test_setting_lookup_rejects_typos() -> None:
    assert _setting_exists("NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS")
    assert _setting_exists("NEWSWATCH_NOTIFY__WEBHOOK_SECRETS__SAHEL_DESK")
    assert not _setting_exists("NEWSWATCH_KAFKA__BOOTSTRAP_SERVER")
    assert not _setting_exists("NEWSWATCH_POLLER")
    assert not _setting_exists("NEWSWATCH_LOG_LEVEL__X")


def test_kafka_image_is_the_local_broker_version() -> None:
    pom = ET.parse(ROOT / "deploy" / "kafka" / "pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = pom.findtext("m:properties/m:kafka.version", namespaces=ns)
    assert version, "kafka.version missing from deploy/kafka/pom.xml"
    assert COMPOSE["services"]["kafka"]["image"] == f"apache/kafka:{version}"
    env = COMPOSE["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper


def test_grafana_and_prometheus_mount_the_provisioned_files() -> None:
    grafana = " ".join(COMPOSE["services"]["grafana"]["volumes"])
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana
    assert "./deploy/prometheus:/etc/prometheus:ro" in COMPOSE["services"]["prometheus"]["volumes"]
    for volume in [v for s in COMPOSE["services"].values() for v in s.get("volumes", [])]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), volume
        else:
            assert source in COMPOSE["volumes"], volume


# ---------------------------------------------------------------------------------------------- k8s
def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc.get("kind") != "Deployment":
        return []
    return list(doc["spec"]["template"]["spec"]["containers"])


def test_k8s_documents_are_well_formed_and_listed() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    for doc in _k8s_docs():
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], doc


@pytest.mark.parametrize("command", ["poll", "worker", "serve"])
def test_k8s_deployments_match_entry_points_ports_and_harden(command: str) -> None:
    deployments = [d for d in _k8s_docs() for c in _containers(d) if c["args"][0] == command]
    assert len(deployments) == 1, f"one Deployment runs newswatch {command}"
    (deployment,) = deployments
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    _parse_command(container["args"])
    port = METRICS_PORTS[command]
    assert container["ports"][0]["containerPort"] == port
    assert {"readinessProbe", "livenessProbe"} <= set(container)
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e for e in container["env"]}
    assert env["NEWSWATCH_KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "newswatch-kafka"
    services = [
        d
        for d in _k8s_docs()
        if d["kind"] == "Service" and d["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    ]
    assert services and services[0]["spec"]["ports"][0]["port"] == port


def test_k8s_secret_and_configmap_cover_kafka_sasl_and_tls() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _k8s_docs()}
    secret = docs[("Secret", "newswatch-kafka")]
    assert {"sasl-username", "sasl-password", "ca.crt"} <= set(secret["stringData"])
    config = docs[("ConfigMap", "newswatch-config")]["data"]
    assert config["NEWSWATCH_KAFKA__SECURITY_PROTOCOL"] in get_args(
        KafkaSettings.model_fields["security_protocol"].annotation
    )


def _articles_partitions() -> int:
    """Partitions of the articles topic as the broker package declares them."""
    settings = KafkaSettings()
    (articles,) = [t for t in declared_topics(settings) if t.name == settings.topic_articles]
    return int(articles.partitions)


def test_keda_scales_the_worker_on_its_lag_up_to_the_partition_count() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _k8s_docs()}
    scaled = docs[("ScaledObject", "newswatch-worker")]["spec"]
    assert ("Deployment", scaled["scaleTargetRef"]["name"]) in docs
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == Settings().worker.app_id
    assert trigger["metadata"]["topic"] == KafkaSettings().topic_articles
    assert scaled["minReplicaCount"] >= 1
    assert scaled["maxReplicaCount"] == _articles_partitions()
    assert ("TriggerAuthentication", trigger["authenticationRef"]["name"]) in docs


def test_k8s_serve_gates_traffic_on_the_read_model_and_listens_on_all_interfaces() -> None:
    (container,) = [c for d in _k8s_docs() for c in _containers(d) if c["args"][0] == "serve"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["NEWSWATCH_SERVE__HOST"] == "0.0.0.0"
    assert env["NEWSWATCH_SERVE__PORT"] == str(Settings().serve.port)
    compose = COMPOSE["services"]["serve"]["environment"]
    assert compose["NEWSWATCH_SERVE__HOST"] == "0.0.0.0"


# ---------------------------------------------------------------------------------------------- Dockerfile
def test_dockerfile_is_multistage_slim_nonroot_and_offline() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, flags=re.M)
    assert len(stages) >= 2 and stages[-1][1] == "runtime"
    assert "slim" in text.split("PYTHON_IMAGE=")[1].split()[0]
    final = text.split("AS runtime", 1)[1]
    user = re.findall(r"^USER\s+(\S+)", final, flags=re.M)
    assert user and not user[-1].startswith(("root", "0"))
    assert "HF_HUB_OFFLINE=1" in final and "COPY --from=build" in final
    assert "newswatch classify" in text.split("AS runtime")[0], "warm-up load at build time"
    assert re.search(r'^ENTRYPOINT \["newswatch"\]', final, flags=re.M)
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") + 1 :][:1] == ["!pyproject.toml"]
