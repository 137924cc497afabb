"""The shipped Grafana dashboard reads only metrics the node exports, and
shows every documented one."""
from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from chatio.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana" / "chatio.json"
METRIC = re.compile(r"\b((?:chatio|process)_[a-z_]+)\b")


def exported() -> dict[str, str]:
    """Every metric family a node exports, by name, with its type."""
    text = Metrics("node-1").render().decode()
    return {family.name: family.type
            for family in text_string_to_metric_families(text)
            if not family.name.endswith("_created")}


def sample_names(family: str, kind: str) -> set[str]:
    if kind == "counter":
        return {family + "_total"}
    if kind == "histogram":
        return {family + "_bucket", family + "_sum", family + "_count"}
    return {family}


def exported_samples() -> set[str]:
    return {name for family, kind in exported().items()
            for name in sample_names(family, kind)}


def dashboard_metrics() -> set[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in board["panels"]
             for target in panel["targets"]]
    exprs += [v.get("query", "") for v in board["templating"]["list"]]
    return {name for expr in exprs for name in METRIC.findall(expr)}


def test_the_dashboard_reads_only_exported_samples() -> None:
    unknown = dashboard_metrics() - exported_samples()
    assert not unknown, unknown


def test_every_chatio_metric_is_on_the_dashboard() -> None:
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", name)
             for name in dashboard_metrics()}
    families = {f for f in exported() if f.startswith("chatio_")}
    assert families <= shown, families - shown
