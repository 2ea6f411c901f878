"""The monitoring files under deploy/: the Prometheus alert rules and their promtool tests, the
Grafana dashboard and the docker-compose `monitoring` profile. Every PromQL expression may name
only the metrics the platform exposes, listed in deploy/metrics.txt."""

import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from config.env import env_bool

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
METRICS = ROOT / "deploy" / "metrics.txt"
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
RULE_TESTS = PROMETHEUS / "alerts_test.yml"
PROMETHEUS_CONFIG = PROMETHEUS / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "loyalty.json"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
COMPOSE = ROOT / "docker-compose.yml"

# Series Prometheus records itself for every scrape target, not exposed by /metrics.
PROMETHEUS_SERIES = {"up"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
PROMQL_KEYWORDS = {"and", "or", "unless", "offset", "bool", "inf", "nan"}

SEVERITY_OF_PRIORITY = {"P0": "page", "P1": "warning", "P2": "review"}
CONTRACT_ALERTS = {
    "LoyaltyExpiryStale": "P0",
    "LoyaltyWalletSyncFailing": "P0",
    "LoyaltyWalletSyncDegraded": "P1",
    "LoyaltyEmailFailures": "P1",
    "LoyaltyStoreRateLimited": "P1",
    "LoyaltyChurnRiskHigh": "P2",
    "LoyaltyEnrolmentsLow": "P2",
}
# The metrics with a `merchant` label: the dashboard filters them by its merchant variable.
MERCHANT_LABELLED = {
    "loyalty_rate_limited_total",
    "loyalty_pin_lockouts_total",
    "loyalty_transactions_total",
    "loyalty_enrolment_funnel_total",
    "loyalty_enrolments_total",
    "loyalty_points_issued_total",
    "loyalty_points_redeemed_total",
    "loyalty_points_expired_total",
    "loyalty_stamp_completions_total",
    "loyalty_cards",
    "loyalty_active_cards",
    "loyalty_at_risk_cards",
    "loyalty_wallet_cards",
    "loyalty_active_programs",
}
DASHBOARD_PANELS = [
    "Enrolment funnel",
    "Email delivery",
    "Transactions per hour by store",
    "Wallet adoption",
    "Task health",
]


def metric_names(expr):
    """The metric names a PromQL expression selects: identifiers that are not functions,
    aggregations, keywords, label names or durations."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "{}", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "[]", expr)  # ranges
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables
    identifiers = re.findall(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()", expr)
    return {name for name in identifiers if name.lower() not in PROMQL_KEYWORDS}


def exposed_metrics():
    return {line.strip() for line in METRICS.read_text().splitlines() if line.strip()}


def is_exposed(name, exposed):
    if name in exposed or name in PROMETHEUS_SERIES:
        return True
    return any(name.endswith(s) and name.removesuffix(s) in exposed for s in HISTOGRAM_SUFFIXES)


def alert_rules():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard():
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs():
    return [
        (panel["title"], target["expr"])
        for panel in dashboard()["panels"]
        for target in panel["targets"]
    ]


def github_anchors(markdown):
    """The anchors GitHub gives the headings of a Markdown file (code blocks left out)."""
    anchors, seen, in_code = set(), Counter(), False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        heading = re.match(r"#{1,6}\s+(.+?)\s*#*\s*$", line)
        if in_code or not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        anchors.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return anchors


def test_metric_names_are_read_out_of_promql():
    expr = (
        'sum by (merchant, store) (increase(a_total{step="x y", merchant=~"$merchant"}[1h]))'
        " / on (merchant) group_left (store) (max without (instance) (b_seconds_bucket) > 0)"
        ' and c offset 7d or absent(d{task="t"}) unless time() - e[5m:1m] > 26 * 3600'
    )
    assert metric_names(expr) == {"a_total", "b_seconds_bucket", "c", "d", "e"}


def test_readme_anchors_are_made_as_github_makes_them():
    markdown = (
        "## Runbook: wallet sync\n```sh\n# a comment, not a heading\n```\n"
        "#### Runbook: LoyaltyWebDown\n### Retries: idempotency, rate limits\n## Tests\n## Tests\n"
    )
    assert github_anchors(markdown) == {
        "runbook-wallet-sync",
        "runbook-loyaltywebdown",
        "retries-idempotency-rate-limits",
        "tests",
        "tests-1",
    }


def test_the_metric_list_names_the_metrics_once_each():
    names = [line.strip() for line in METRICS.read_text().splitlines() if line.strip()]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"loyalty_[a-z_]+", name) for name in names), names


def test_the_readme_metric_table_lists_the_same_metrics():
    # Rows of a table that name a metric and its type (the email template table does not).
    row = r"^\| `(loyalty_[a-z_]+)` \|.*\b(?:counter|gauge|histogram|summary)\b.*\|$"
    documented = set(re.findall(row, README.read_text(), re.M))
    if not documented:
        pytest.skip("README.md has no metric table (| `loyalty_...` | rows) to compare with")
    assert documented == exposed_metrics()


def test_every_rule_expression_names_only_exposed_metrics():
    exposed = exposed_metrics()
    for rule in alert_rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert {name for name in names if not is_exposed(name, exposed)} == set(), rule["alert"]


def test_every_dashboard_expression_names_only_exposed_metrics():
    exposed = exposed_metrics()
    for title, expr in dashboard_exprs():
        names = metric_names(expr)
        assert names, title
        assert {name for name in names if not is_exposed(name, exposed)} == set(), title


def test_the_rules_hold_every_contract_alert_with_its_priority_and_severity():
    rules = {rule["alert"]: rule for rule in alert_rules()}
    assert len(rules) == len(alert_rules())
    assert {name: rules[name]["labels"]["priority"] for name in CONTRACT_ALERTS} == CONTRACT_ALERTS
    for name, rule in rules.items():
        priority = rule["labels"]["priority"]
        assert rule["labels"]["severity"] == SEVERITY_OF_PRIORITY[priority], name
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name


def test_every_alert_has_a_summary_a_description_and_a_runbook_in_the_readme():
    readme = README.read_text()
    anchors = github_anchors(readme)
    alert_table = re.findall(r"^\| `(Loyalty\w+)` \|.*\]\(#(runbook-\w+)\) \|$", readme, re.M)
    assert alert_table == [
        (rule["alert"], rule["annotations"]["runbook_url"].removeprefix("README.md#"))
        for rule in alert_rules()
    ]
    for rule in alert_rules():
        annotations = rule["annotations"]
        assert annotations["summary"].strip(), rule["alert"]
        assert annotations["description"].strip(), rule["alert"]
        page, anchor = annotations["runbook_url"].split("#")
        assert page == "README.md", rule["alert"]
        assert anchor.startswith("runbook-") and anchor in anchors, rule["alert"]


def test_every_alert_is_tested_by_a_case_that_fires_and_one_that_does_not():
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    for rule in alert_rules():
        own = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in own), rule["alert"]
        assert any(not case["exp_alerts"] for case in own), rule["alert"]


def test_the_dashboard_has_the_five_panels_a_merchant_and_a_datasource_variable():
    board = dashboard()
    assert [panel["title"] for panel in board["panels"]] == DASHBOARD_PANELS
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["merchant"]["type"] == "query"
    merchants = re.fullmatch(
        r"label_values\((\w+), merchant\)", variables["merchant"]["definition"]
    )
    assert merchants.group(1) in MERCHANT_LABELLED & exposed_metrics()
    for panel in board["panels"]:
        assert panel["targets"], panel["title"]
        for source in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert source == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


def test_the_dashboard_panels_read_the_metrics_of_their_subject_for_the_chosen_merchants():
    used = {title: set() for title in DASHBOARD_PANELS}
    for title, expr in dashboard_exprs():
        used[title] |= metric_names(expr)
        for name in metric_names(expr) & MERCHANT_LABELLED:
            selectors = re.findall(rf"\b{name}(\{{[^}}]*\}})?", expr)
            assert all('merchant=~"$merchant"' in s for s in selectors), (title, name)
    assert used == {
        "Enrolment funnel": {"loyalty_enrolment_funnel_total"},
        "Email delivery": {"loyalty_emails_total"},
        "Transactions per hour by store": {"loyalty_transactions_total"},
        "Wallet adoption": {"loyalty_wallet_cards", "loyalty_cards"},
        "Task health": {"loyalty_task_last_success_timestamp_seconds", "loyalty_task_runs_total"},
    }
    steps = [
        re.search(r'(?:step|status)="(\w+)"', expr).group(1)
        for title, expr in dashboard_exprs()
        if title in ("Enrolment funnel", "Email delivery")
    ]
    assert steps == [
        *("page_view", "form_start", "submission", "success"),
        *("sent", "delivered", "opened", "clicked"),
    ]


def test_the_monitoring_profile_mounts_the_rules_the_config_and_the_dashboard():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        service = services[name]
        assert service["profiles"] == ["monitoring"], name
        image, _, tag = service["image"].partition(":")
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: pin the image, not {tag!r}"
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            assert not source.startswith("./") or (ROOT / source).exists(), volume
    mounts = {
        volume.split(":")[1]: volume.split(":")[0]
        for service in (services["prometheus"], services["grafana"])
        for volume in service["volumes"]
    }
    # Prometheus reads its rule files relative to its config file.
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config_dir = Path("/etc/prometheus")
    assert mounts[str(config_dir / "prometheus.yml")] == "./deploy/prometheus/prometheus.yml"
    assert [mounts[str(config_dir / rule)] for rule in config["rule_files"]] == [
        "./deploy/prometheus/alerts.yml"
    ]
    # The bearer token is the compose secret made from METRICS_TOKEN.
    job = config["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": ["web:8000"]}]
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert services["prometheus"]["secrets"] == ["metrics_token"]
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    # Grafana's dashboard provider reads the directory the dashboards are mounted in.
    providers = yaml.safe_load((GRAFANA_PROVISIONING / "dashboards" / "loyalty.yml").read_text())
    provider_path = providers["providers"][0]["options"]["path"]
    assert mounts[provider_path] == "./deploy/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    datasources = yaml.safe_load(
        (GRAFANA_PROVISIONING / "datasources" / "prometheus.yml").read_text()
    )
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"


@pytest.fixture
def promtool():
    path = shutil.which("promtool")
    if path is None:
        if env_bool("CI", False):
            pytest.fail("CI must run the promtool tests, and promtool is missing")
        pytest.skip("needs promtool (apt-get install prometheus)")
    return path


def run_promtool(promtool, *args):
    result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_promtool_checks_the_rules(promtool):
    assert "SUCCESS: 8 rules found" in run_promtool(promtool, "check", "rules", str(RULES))


def test_promtool_unit_tests_of_the_rules_pass(promtool):
    assert "SUCCESS" in run_promtool(promtool, "test", "rules", str(RULE_TESTS))


def test_promtool_accepts_the_prometheus_config(promtool, tmp_path):
    # promtool opens the token file the config names: point it at one that exists here.
    (tmp_path / "metrics_token").write_text("token\n")
    config = PROMETHEUS_CONFIG.read_text().replace(
        "/run/secrets/metrics_token", str(tmp_path / "metrics_token")
    )
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(RULES, tmp_path / "alerts.yml")
    run_promtool(promtool, "check", "config", str(tmp_path / "prometheus.yml"))


def test_promtool_parses_every_dashboard_expression(promtool, tmp_path):
    # Grafana's variables replaced by values of the same kind, each expression becomes a
    # recording rule that `promtool check rules` parses.
    rules = [
        {
            "record": f"dashboard:expr{number}",
            "expr": expr.replace("$__range", "1h").replace("$merchant", ".*"),
        }
        for number, (_, expr) in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    output = run_promtool(promtool, "check", "rules", str(path))
    assert f"SUCCESS: {len(rules)} rules found" in output
