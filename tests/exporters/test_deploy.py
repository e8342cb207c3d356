"""The shipped deployment files (deploy/): promtool accepts the rules and the Prometheus config and passes
the rules' unit tests; every PromQL expression in rules, dashboards and autoscaler examples parses and
names only metrics spendscope exports; dashboards are Grafana JSON with a Prometheus datasource variable;
the KEDA and HPA examples are well-formed and agree with each other."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from spendscope.exporters.metrics import METRIC_NAMES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
DASHBOARDS = sorted((DEPLOY / "grafana").glob("*.json"))
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
UNIT_COST_LABELS = {"service", "window", "currency"}
"""Labels of spendscope_cost_per_transaction (spendscope.exporters.metrics._unit_cost_families)."""
GRAFANA_VARIABLES = {"$currency": "USD", "$service": "checkout"}
ADAPTER_TEMPLATE = {
    "<<.Series>>": "spendscope_cost_per_transaction",
    "<<.LabelMatchers>>": 'service="reindex"',
    "<<.GroupBy>>": "service",
}


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        reason = "promtool is not installed: run `make test-deps` (Debian package prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def recorded_names() -> set[str]:
    return {r["record"] for g in load_yaml(RULES)["groups"] for r in g["rules"] if "record" in r}


def unknown_metric_names(expr: str, *, recorded: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """Names in ``expr`` that are neither exported (METRIC_NAMES, plus the counter/histogram sample suffixes of
    their type) nor recorded by our rules."""
    unknown = set()
    for token in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        if token in recorded:
            continue
        for name in re.findall(r"spendscope_[a-z0-9_]+", token):
            if name in METRIC_NAMES:
                continue
            if not any(
                name.endswith(suffix) and METRIC_NAMES.get(name.removesuffix(suffix), ("",))[0] == kind
                for kind, suffixes in SUFFIXES.items()
                for suffix in suffixes
            ):
                unknown.add(name)
    return unknown


def rule_expressions() -> list[str]:
    return [r["expr"] for g in load_yaml(RULES)["groups"] for r in g["rules"]]


def dashboard_expressions(board: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in board["templating"]["list"] if v["type"] == "query"]
    return exprs


def autoscaler_expressions() -> list[str]:
    keda = load_yaml(DEPLOY / "keda" / "scaledobject.yaml")
    adapter = load_yaml(DEPLOY / "hpa" / "prometheus-adapter-rules.yaml")
    exprs = [t["metadata"]["query"] for t in keda["spec"]["triggers"]]
    for rule in adapter["externalRules"]:
        exprs += [rule["seriesQuery"], rule["metricsQuery"]]
    return exprs


def substituted(expr: str) -> str:
    for old, new in {**GRAFANA_VARIABLES, **ADAPTER_TEMPLATE}.items():
        expr = expr.replace(old, new)
    return expr


# ---------------------------------------------------------------- promtool


def test_promtool_accepts_the_rules_and_the_config() -> None:
    rules = promtool("check", "rules", str(RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 14 rules found" in rules.stdout
    config = promtool("check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    assert "SUCCESS: 1 rule files found" in config.stdout


def test_rules_pass_their_unit_tests() -> None:
    """rules_test.yml: stale collector after 12 h for 15 m, billing data older than 36 h, collector errors in
    2 h, budget burn above 3 x pace for 1 h, refresh errors for 30 m, exporter down, team hourly rate."""
    result = promtool("test", "rules", "rules_test.yml", cwd=DEPLOY / "prometheus")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_fail_on_a_changed_threshold(tmp_path: Path) -> None:
    """The unit tests are not vacuous: the budget burn threshold at 4 x instead of 3 x fails them."""
    (tmp_path / "rules.yml").write_text(RULES.read_text().replace("spendscope_budget_burn_ratio > 3", "x > 4"))
    shutil.copy(DEPLOY / "prometheus" / "rules_test.yml", tmp_path)
    result = promtool("test", "rules", "rules_test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "SpendscopeBudgetBurnRateHigh" in result.stdout + result.stderr


def test_every_dashboard_and_autoscaler_expression_is_valid_promql(tmp_path: Path) -> None:
    exprs = [e for board in DASHBOARDS for e in dashboard_expressions(json.loads(board.read_text()))]
    exprs = [e for e in exprs if not e.startswith("label_values(")]  # a Grafana function, not PromQL
    exprs += autoscaler_expressions()
    checks = [{"record": f"check:expr_{i}", "expr": substituted(e)} for i, e in enumerate(exprs)]
    rules = {"groups": [{"name": "check", "rules": checks}]}
    path = tmp_path / "exprs.yml"
    path.write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(exprs) > 20


# ---------------------------------------------------------------- metric names


def test_name_check_flags_names_spendscope_does_not_export() -> None:
    assert unknown_metric_names("rate(spendscope_cost_hourly_rate[5m])") == set()
    assert unknown_metric_names("increase(spendscope_collector_errors_total[1h])") == set()
    assert unknown_metric_names("spendscope_ingest_duration_seconds_bucket") == set()
    assert unknown_metric_names("spendscope_cost_hourly_rate_total + spendscope_nope") == {
        "spendscope_cost_hourly_rate_total",  # a gauge has no _total samples
        "spendscope_nope",
    }
    assert unknown_metric_names("team:spendscope_made_up:sum") == {"spendscope_made_up"}
    assert unknown_metric_names("team:spendscope_made_up:sum", recorded={"team:spendscope_made_up:sum"}) == set()


def test_rules_dashboards_and_autoscalers_use_only_exported_metrics() -> None:
    recorded = recorded_names()
    sources = {"rules.yml": rule_expressions(), "autoscalers": autoscaler_expressions()}
    sources.update({board.name: dashboard_expressions(json.loads(board.read_text())) for board in DASHBOARDS})
    used = set()
    for source, exprs in sources.items():
        for expr in exprs:
            assert not unknown_metric_names(expr, recorded=recorded), (source, expr)
            used.update(re.findall(r"spendscope_[a-z0-9_]+", expr))
    # the deployment covers the metrics it is about
    assert {
        "spendscope_cost_month_to_date",
        "spendscope_budget_amount",
        "spendscope_forecast_month_end",
        "spendscope_untagged_cost_ratio",
        "spendscope_anomaly_active",
        "spendscope_collector_last_success_timestamp_seconds",
        "spendscope_cost_per_transaction",
    } <= used


# ---------------------------------------------------------------- Grafana


@pytest.mark.parametrize("board_path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_dashboards_are_grafana_json_with_a_prometheus_datasource_variable(board_path: Path) -> None:
    board = json.loads(board_path.read_text())
    assert board["uid"] == f"spendscope-{board_path.stem}" and board["title"].startswith("spendscope / ")
    assert isinstance(board["schemaVersion"], int)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert board["panels"] and len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for panel in board["panels"]:
        where = (board_path.name, panel["title"])
        assert panel["type"] in {"stat", "timeseries", "table", "bargauge"}, where
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, where
        assert panel["targets"], where
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), where
        for target in panel["targets"]:
            assert target["expr"].strip() and target["datasource"]["uid"] == "${datasource}", where
            for name in re.findall(r"\$([a-z_]+)", target["expr"]):
                assert name in variables, (where, name)


def test_dashboards_show_what_the_issue_asks_for() -> None:
    exprs = {p.stem: " ".join(dashboard_expressions(json.loads(p.read_text()))) for p in DASHBOARDS}
    assert set(exprs) == {"executive", "oncall", "unit-cost"}
    executive = exprs["executive"]
    for needle in ("spendscope_cost_month_to_date", "spendscope_budget_amount", "spendscope_forecast_month_end"):
        assert needle in executive
    assert "offset 7d" in executive and "topk(" in executive  # top movers
    assert "spendscope_untagged_cost_ratio" in executive
    assert "spendscope_anomaly_impact" in exprs["oncall"] and "spendscope_billing_data_latest" in exprs["oncall"]
    assert "spendscope_collector_last_success_timestamp_seconds" in exprs["oncall"]
    assert "spendscope_cost_per_transaction" in exprs["unit-cost"]


# ---------------------------------------------------------------- autoscalers


def test_keda_scaled_object_reads_one_cost_per_transaction_series() -> None:
    keda = load_yaml(DEPLOY / "keda" / "scaledobject.yaml")
    assert keda["apiVersion"] == "keda.sh/v1alpha1" and keda["kind"] == "ScaledObject"
    assert keda["spec"]["scaleTargetRef"]["name"] and keda["spec"]["minReplicaCount"] >= 1
    (trigger,) = keda["spec"]["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] in ("Value", "AverageValue")
    meta = trigger["metadata"]
    assert meta["serverAddress"].startswith("http") and float(meta["threshold"]) > 0
    selector = re.search(r"spendscope_cost_per_transaction\{([^}]*)\}", meta["query"])
    assert selector is not None
    labels = dict(re.findall(r'(\w+)="([^"]*)"', selector.group(1)))
    assert set(labels) == UNIT_COST_LABELS  # one service, one window, one currency: a single series
    assert labels["window"] in ("hour", "day", "month")


def test_hpa_reads_the_external_metric_the_adapter_exposes() -> None:
    adapter = load_yaml(DEPLOY / "hpa" / "prometheus-adapter-rules.yaml")
    hpa = load_yaml(DEPLOY / "hpa" / "hpa.yaml")
    (rule,) = adapter["externalRules"]
    assert "spendscope_cost_per_transaction" in rule["seriesQuery"] and rule["resources"]["namespaced"] is False
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["kind"] == "HorizontalPodAutoscaler"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"]["name"] == rule["name"]["as"]
    assert set(metric["external"]["metric"]["selector"]["matchLabels"]) == UNIT_COST_LABELS
    assert metric["external"]["target"]["type"] == "Value" and float(metric["external"]["target"]["value"]) > 0


def test_deploy_readme_documents_the_alert_labels_and_files() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for label in ("alertname", "severity", "anomaly_id", "team", "service", "account", "region", "currency"):
        assert f"`{label}`" in readme, label
    for name in ("SpendscopeCostAnomaly", "SpendscopeBudgetBurn", "spendscope alerts push"):
        assert name in readme
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert str(path.relative_to(DEPLOY)) in readme, path
