"""deploy/k8s: valid against the Kubernetes schemas offline, and consistent with the code.

The schemas of the built-in kinds come with kubernetes-validate (a test dependency; its wheel
holds them, so nothing is fetched); those of KEDA, Strimzi, the Prometheus Operator and
kustomize are ours, in deploy/schemas.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from broadcaster.bus.topics import dead_letter_topic, tier_topics
from broadcaster.pipeline.runtime import consumer_groups, stage_names, topic_specs
from broadcaster.settings import load_settings
from tests.deploy_support import (
    DEPLOY,
    ROOT,
    generator,
    k8s_docs,
    k8s_files,
    manifest_errors,
    schema_errors,
    yaml_docs,
)

K8S = DEPLOY / "k8s"


@cache
def _all_docs() -> tuple[dict[str, Any], ...]:
    return tuple(doc for _, doc in k8s_docs())


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _all_docs() if doc["kind"] == kind]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def _stage_of(deployment: dict[str, Any]) -> str:
    args = _container(deployment)["args"]
    assert args[0] == "worker", deployment["metadata"]["name"]
    return str(args[1])


@pytest.mark.parametrize("path", k8s_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_manifest_is_valid_offline(path: Path) -> None:
    docs = yaml_docs(path)
    assert docs, f"{path} holds no document"
    for doc in docs:
        errors = manifest_errors(doc)
        assert not errors, f"{path.name}: {doc.get('kind')} {doc.get('metadata', {}).get('name')}: {errors}"


def test_the_check_refuses_what_kubernetes_would() -> None:
    deployment = _of_kind("Deployment")[0]
    bad = copy.deepcopy(deployment)
    bad["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}  # a typo
    assert manifest_errors(bad)
    bad = copy.deepcopy(deployment)
    bad["spec"]["replicas"] = "two"
    assert manifest_errors(bad)
    scaled = copy.deepcopy(_of_kind("ScaledObject")[0])
    del scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"]
    assert manifest_errors(scaled)
    topic = copy.deepcopy(_of_kind("KafkaTopic")[0])
    topic["spec"]["config"]["retention.hours"] = "1"
    assert manifest_errors(topic)
    assert manifest_errors({"apiVersion": "example.com/v1", "kind": "Unknown", "metadata": {"name": "x"}})


def test_generated_files_are_what_the_code_says() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in generator().render().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"run `python deploy/generate.py`: {stale} differ from what the code and settings say"


def test_every_stage_of_the_pipeline_has_a_deployment() -> None:
    settings = generator().load()
    wanted = set(stage_names(settings, web=True)) | {"scheduler"}
    assert {"normalize", "route", "ledger", "redrive", "web", "ingest:jma"} <= wanted
    assert {s for s in wanted if s.startswith("channel:")} == {f"channel:{c}" for c in settings.enabled_channels()}
    deployed = [_stage_of(d) for d in _of_kind("Deployment")]
    assert sorted(deployed) == sorted(wanted), "one Deployment per stage, no more"


def test_every_topic_is_defined_with_the_partitions_the_code_creates() -> None:
    settings = generator().load()
    prefix, n = settings.bus.prefix, settings.bus.partitions
    strimzi = {t["spec"]["topicName"]: t["spec"] for t in _of_kind("KafkaTopic")}
    listed = {t["name"]: t for t in yaml_docs(DEPLOY / "kafka" / "topics.yaml")[0]["topics"]}
    script = (DEPLOY / "kafka" / "create-topics.sh").read_text(encoding="utf-8")
    names = [s.name for s in topic_specs(settings)]
    for group, _ in consumer_groups(settings):
        names += [*tier_topics(group, settings.pipeline.retry_tiers_s), dead_letter_topic(group)]
    assert len(set(names)) == len(names) == len(strimzi) == len(listed)
    for spec in topic_specs(settings):
        assert strimzi[prefix + spec.name]["partitions"] == spec.partitions == n
    for name in names:
        topic = strimzi[prefix + name]
        assert topic["replicas"] == settings.bus.kafka_replication == listed[name]["replication_factor"]
        assert listed[name]["partitions"] == topic["partitions"] == n
        assert 1 <= int(topic["config"]["min.insync.replicas"]) < topic["replicas"]
        assert f"\ntopic {name} " in script
    assert f'PARTITIONS:={n}}}"' in script and f'PREFIX:={prefix}}}"' in script
    # A retry topic must keep a record longer than its own delay.
    for name in names:
        if name.startswith("retry."):
            delay_s = float(name.rsplit(".", 1)[1].removesuffix("s").removesuffix("m")) or 1
            assert int(strimzi[prefix + name]["config"]["retention.ms"]) > delay_s * 1000 * 10


def test_autoscalers_follow_each_consumer_group() -> None:
    settings = generator().load()
    prefix = settings.bus.prefix
    groups = dict(consumer_groups(settings))
    deployments = {d["metadata"]["name"]: d for d in _of_kind("Deployment")}
    scaled = _of_kind("ScaledObject")
    assert scaled
    for so in scaled:
        target = deployments[so["spec"]["scaleTargetRef"]["name"]]
        trigger = so["spec"]["triggers"][0]["metadata"]
        group = trigger["consumerGroup"].removeprefix(prefix)
        assert [prefix + t for t in groups[group]] == [trigger["topic"]]
        stage = _stage_of(target)
        assert group == ("channel." + stage.split(":", 1)[1] if stage.startswith("channel:") else stage)
        assert trigger["bootstrapServers"] == settings.bus.url.removeprefix("kafka://")
        assert 1 <= so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"] <= settings.bus.partitions
        assert target["spec"]["replicas"] == so["spec"]["minReplicaCount"]
    autoscaled = {_stage_of(deployments[so["spec"]["scaleTargetRef"]["name"]]) for so in scaled}
    assert {"normalize", "route", "ledger"} <= autoscaled


def test_probes_ports_resources_and_hardening() -> None:
    settings = generator().load()
    for d in _of_kind("Deployment"):
        c = _container(d)
        name = d["metadata"]["name"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        if _stage_of(d) == "web":
            assert ports == {"http": settings.web.port}
            port = "http"
        else:
            assert c["args"][2] == "--metrics-port"
            assert ports == {"metrics": int(c["args"][3])}
            port = "metrics"
        assert settings.web.host == "0.0.0.0", "probes reach the pod's address, not its loopback"
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}, name
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}, name
        assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert set(c["resources"]["requests"]) == {"cpu", "memory"} and "memory" in c["resources"]["limits"], name
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert d["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert {"/etc/broadcaster", "/var/lib/broadcaster", "/tmp"} <= mounts, name
        assert {"name": "BROADCASTER_CONFIG", "value": "/etc/broadcaster/broadcaster.toml"} in c["env"]


def test_disruption_budgets_and_services_select_deployments() -> None:
    deployments = _of_kind("Deployment")
    labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments]
    for pdb in _of_kind("PodDisruptionBudget"):
        selected = [d for d, lab in zip(deployments, labels, strict=True) if pdb["spec"]["selector"]["matchLabels"].items() <= lab.items()]
        assert len(selected) == 1 and selected[0]["spec"]["replicas"] >= 2, pdb["metadata"]["name"]
    for d in deployments:
        if d["spec"]["replicas"] >= 2:
            assert any(p["metadata"]["name"] == d["metadata"]["name"] for p in _of_kind("PodDisruptionBudget"))
    (service,) = _of_kind("Service")
    assert [d for d, lab in zip(deployments, labels, strict=True) if service["spec"]["selector"].items() <= lab.items()] == [
        d for d in deployments if _stage_of(d) == "web"
    ]
    claims = {c["metadata"]["name"] for c in _of_kind("PersistentVolumeClaim")}
    for d in deployments:
        for v in d["spec"]["template"]["spec"]["volumes"]:
            if "persistentVolumeClaim" in v:
                assert v["persistentVolumeClaim"]["claimName"] in claims
            if "configMap" in v:
                assert v["configMap"]["name"] == "broadcaster-config"


def test_the_kustomization_names_every_file() -> None:
    (kust,) = yaml_docs(K8S / "kustomization.yaml")
    assert not schema_errors("kustomization", kust)
    listed = set(kust["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk
    for gen in kust["configMapGenerator"]:
        for f in gen["files"]:
            assert (K8S / f).is_file()
    assert {i["name"] for i in kust["images"]} == {"broadcaster"}


def test_the_config_and_the_example_secret_make_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    (secret,) = yaml_docs(K8S / "secret.example.yaml")
    for key, value in secret["stringData"].items():
        monkeypatch.setenv(key, value)
    settings = load_settings(K8S / "broadcaster.toml")
    assert settings.db_url.startswith("postgresql+asyncpg://")
    assert settings.bus.url.startswith("kafka://") and settings.bus.kafka_replication >= 3
    line = settings.channel("anamizu", "line")
    assert line.credentials["token"].get_secret_value() == "CHANGE-ME"
    # The town's own section (its token) keeps the deployment's LINE rate share.
    for town in settings.tenants:
        assert settings.channel(town, "line").options == settings.channels["line"].options
    assert settings.hooks["jalert"].keys["anamizu_rx"].secret.get_secret_value().startswith("CHANGE-ME")
    assert settings.web.metrics_token is not None


def test_the_drill_cronjob_sends_the_sample_drill() -> None:
    (config_map,) = [d for d in _of_kind("ConfigMap") if d["metadata"]["name"] == "broadcaster-drill"]
    sample = json.loads((ROOT / "samples" / "manual" / "drill_officers.json").read_text(encoding="utf-8"))
    assert json.loads(config_map["data"]["drill_officers.json"]) == sample
    (cron,) = _of_kind("CronJob")
    spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    command = " ".join(spec["containers"][0]["args"])
    assert "broadcaster send /etc/broadcaster-drill/drill_officers.json" in command
    tenant = command.split("--tenant ", 1)[1].split()[0]
    assert tenant in generator().load().tenants
    assert cron["spec"]["timeZone"] == "Asia/Tokyo"
