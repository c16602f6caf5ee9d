"""Every metric the Grafana dashboard (deploy/grafana/dashboards) queries exists in the
/metrics of a running nl6d."""

import json
import re
import time

from conftest import ROOT, call, free_port

DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))

# PromQL words that are not metric names.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
            "and", "or", "unless", "atan2", "inf", "nan"}


def metric_names(expr):
    """The metric names a PromQL expression selects (functions, label matchers, grouping
    labels, durations, strings and Grafana variables are not)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)                                  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)                                 # ranges, subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\$\{?\w+\}?", " ", expr)                               # $variables
    expr = re.sub(r"\b\d+(?:\.\d+)?(?:ms|[smhdwy])?\b", " ", expr)           # numbers, durations
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word, rest = m.group(0), expr[m.end():]
        if word in KEYWORDS or rest.lstrip().startswith("("):
            continue
        names.add(word)
    return names


def queries(dashboard):
    """Every PromQL expression of the dashboard: panel targets (also inside rows) and the
    metric of each `label_values(metric, label)` variable."""
    exprs = []

    def walk(panels):
        for panel in panels:
            exprs.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(dashboard.get("panels", []))
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        query = query.get("query", "") if isinstance(query, dict) else (query or "")
        for m in re.finditer(r"label_values\(\s*([^,)]+)", query):
            exprs.append(m.group(1))
        if var.get("type") == "query" and "label_values" not in query and query:
            exprs.append(query)
    return exprs


def exported(text):
    """The metric names in a Prometheus text exposition."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def test_the_expression_parser_finds_metrics_only():
    expr = ('time() - max by (collector, flavor) (nl6_a{instance=~"$instance", x="by(y)"}) '
            '+ sum without (cause) (rate(nl6_b_total[$__rate_interval] offset 5m)) / on (job) nl6_c')
    assert metric_names(expr) == {"nl6_a", "nl6_b_total", "nl6_c"}
    assert metric_names("histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))") == {"x_bucket"}


def test_every_dashboard_metric_is_exported(nl6d):
    assert DASHBOARDS, "no dashboard under deploy/grafana/dashboards"
    rest, gnmi, closed = free_port(), free_port(), free_port()
    # A dial-out destination that refuses connections: its rows, failure counters and
    # last-error timestamp exist; dial-in (with MDT CreateSubs) runs too.
    nl6d("--auto-count", "3", "--auto-start-ip", "127.75.0.1", "--gnmi-port", str(gnmi),
         "--gnmi-tls=false", "--listen", f"127.0.0.1:{rest}", "--gnmi-mode", "dial-out",
         "--gnmi-dialout-collector", f"127.0.0.1:{closed}", "--gnmi-dialout-tls=false")
    api = f"http://127.0.0.1:{rest}"
    status, _ = call(api, "GET", "/health")
    assert status == 200
    deadline = time.monotonic() + 20
    while True:
        status, text = call(api, "GET", "/metrics")
        assert status == 200 and isinstance(text, str)
        names = exported(text)
        if "nl6_dialout_last_error_timestamp_seconds" in names or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    checked = 0
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        used = set()
        for expr in queries(dashboard):
            used |= metric_names(expr)
        assert used, f"{path.name}: no metric found in its queries"
        missing = sorted(used - names)
        assert not missing, f"{path.name} queries metrics nl6d does not export: {missing}"
        checked += len(used)
    assert checked >= 30
