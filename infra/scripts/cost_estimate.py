"""Monthly cost estimate per environment, from the Terraform sizes and a price table.

    python infra/scripts/cost_estimate.py            # print the table
    python infra/scripts/cost_estimate.py --write    # refresh docs/cost.md

Sizes come from the code, not from a copy: ``envs/<env>/main.tf`` (the platform module's
arguments) over ``modules/platform/variables.tf`` defaults, the endpoint list of
``modules/network``, and the SageMaker instance types of ``conf/aws/sagemaker.yml``.
Prices and usage assumptions come from ``infra/cost/prices.json`` (dated, one region).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2
import yaml

REPO = Path(__file__).resolve().parents[2]
TF = REPO / "infra" / "terraform"
PRICES = REPO / "infra" / "cost" / "prices.json"
DOC = REPO / "docs" / "cost.md"
BEGIN, END = "<!-- cost-table:begin -->", "<!-- cost-table:end -->"
TARGET_USD = 500.0
ENVIRONMENTS = ("dev", "prod")


def unquote(value: Any) -> Any:
    """python-hcl2 keeps HCL quotes on strings and keys; drop them, recursively."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        return value
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {
            unquote(k): unquote(v)
            for k, v in value.items()
            if not (k.startswith("__") and k.endswith("__"))  # parser metadata
        }
    return value


def load_tf(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return unquote(hcl2.load(fh))  # type: ignore[no-any-return]


def variable_defaults(module: Path) -> dict[str, Any]:
    out = {}
    for block in load_tf(module / "variables.tf").get("variable", []):
        for name, spec in block.items():
            if "default" in spec:
                out[name] = spec["default"]
    return out


def platform_settings(env: str) -> dict[str, Any]:
    """The platform module's effective arguments in one environment."""
    settings = variable_defaults(TF / "modules" / "platform")
    for block in load_tf(TF / "envs" / env / "main.tf").get("module", []):
        if "platform" in block:
            settings.update(
                {
                    k: v
                    for k, v in block["platform"].items()
                    if not str(v).startswith("${")
                }
            )
    settings["interface_endpoints"] = variable_defaults(TF / "modules" / "network")[
        "interface_endpoints"
    ]
    # the platform always gives the network the MLflow endpoint (platform/main.tf)
    settings["interface_endpoints"] = [*settings["interface_endpoints"], "mlflow"]
    return settings


def step_instance_types() -> dict[str, str]:
    conf = yaml.safe_load((REPO / "conf" / "aws" / "sagemaker.yml").read_text())
    resources = conf["aws"]["resources"]
    default = resources["__default__"]["instance_type"]
    stages = ("data_engineering", "drift", "training", "evaluation", "reporting")
    return {s: resources.get(s, {}).get("instance_type", default) for s in stages}


def estimate(
    env: str,
    prices: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, float | None]:
    """Monthly USD per line item for one environment; None for an item whose price
    ``prices.json`` does not have (shown as unpriced, never as zero). ``settings``
    replaces the environment's platform settings (a what-if)."""
    p = prices or json.loads(PRICES.read_text())
    s = settings if settings is not None else platform_settings(env)
    use = p["usage_assumptions"][env]
    hours = p["hours_per_month"]
    instance = s["node_instance_types"][0]
    node_hour = p["ec2_on_demand_per_hour"][instance]
    if s["node_capacity_type"] == "SPOT":
        node_hour *= 1 - p["spot_discount"]
    nodes = s["node_min_size"]
    endpoints = len(s["interface_endpoints"]) * min(
        s["endpoint_az_count"], s["az_count"]
    )
    runs = p["usage_assumptions"]["pipeline_runs_per_month"]
    share = p["usage_assumptions"]["training_share_of_runs"]
    step_hours = p["usage_assumptions"]["step_hours"]
    sm_prices = p["sagemaker_processing_per_hour"]
    pipeline = 0.0
    for stage, itype in step_instance_types().items():
        runs_of_stage = runs if stage in ("data_engineering", "drift") else runs * share
        pipeline += runs_of_stage * step_hours[stage] * sm_prices[itype]
    pipeline *= len(s["pipelines"])  # one daily pipeline per use case
    n_classes = sum(len(v) for v in s["prediction_classes"].values())
    metrics = 5 + n_classes  # requests, 5xx, latency, car count, drift + per class
    log_gb = use["log_gb_per_month"]
    retention_months = s["log_retention_days"] / 30
    eks, ecs = serves_on(s, "eks"), serves_on(s, "ecs")
    albs = int(eks) + int(ecs)  # the ingress's (EKS) and the service's own (ECS)
    items = {
        "EKS control plane": p["eks_cluster_per_hour"] * hours if eks else None,
        f"nodes: {nodes} x {instance} {s['node_capacity_type'].lower()}": nodes
        * node_hour
        * hours
        if eks
        else None,
        "node volumes (gp3)": nodes * 30 * p["ebs_gp3_per_gb_month"] if eks else None,
        f"interface endpoints: {endpoints} endpoint-AZs": endpoints
        * p["vpc_interface_endpoint_per_az_hour"]
        * hours,
        f"load balancers (ALB): {albs}": albs
        * (
            p["alb_per_hour"] * hours
            + p["alb_lcu_per_month_assumed"] * use["requests_alb_lcu_factor"]
        ),
        "SageMaker pipeline steps": pipeline,
        "CloudWatch logs": log_gb * p["cloudwatch_logs_ingest_per_gb"]
        + log_gb * retention_months * p["cloudwatch_logs_storage_per_gb_month"],
        "CloudWatch metrics, alarms, dashboard": metrics
        * p["cloudwatch_custom_metric_per_month"]
        + 4 * p["cloudwatch_alarm_per_month"]
        + p["cloudwatch_dashboard_per_month"],
        "S3 data lake": use["lake_gb"] * p["s3_standard_per_gb_month"],
        "CloudTrail S3 data events": use["data_events_per_month"]
        / 100_000
        * p["cloudtrail_data_events_per_100k"],
        "KMS key": p["kms_key_per_month"],
        "KMS requests": use["kms_requests_per_month"]
        / 10_000
        * p["kms_requests_per_10k"],
        "EKS control-plane logs (5 types)": use["control_plane_log_gb_per_month"]
        * p["cloudwatch_logs_ingest_per_gb"]
        if eks
        else None,
        "VPC flow logs (rejected traffic)": use["flow_log_gb_per_month"]
        * p["cloudwatch_logs_ingest_per_gb"],
        "interface endpoint data processed": use["endpoint_gb_per_month"]
        * p["vpc_interface_endpoint_per_gb"],
        "ECR image storage": use["ecr_gb_stored"] * p["ecr_storage_per_gb_month"],
    }
    if s["public_load_balancer"]:  # an internet-facing ALB: a public IPv4 per zone
        addresses = albs * s["az_count"]
        items[f"ALB public IPv4 addresses ({addresses})"] = (
            addresses * p["public_ipv4_per_hour"] * hours
        )
    # a platform that is not deployed costs nothing and is not listed
    out: dict[str, float | None] = {
        k: round(v, 2) for k, v in items.items() if v is not None
    }
    if eks:  # billed per observation: no figure recorded (prices.json)
        out["Container Insights (observability add-on)"] = None
    if ecs:  # Fargate tasks: no vCPU-hour or GB-hour price recorded (prices.json)
        ecs_conf = s.get("ecs_serving") or {}
        tasks = ecs_conf.get("min_tasks", 2)
        out[f"ECS Fargate serving tasks ({tasks}, always on)"] = None
    if s.get("mlflow_tracking_server_arn") is None:  # the platform creates one
        size = s["mlflow_tracking_server_size"]
        hourly = p["sagemaker_mlflow_tracking_server_per_hour"].get(size)
        daily = tracking_server_hours_per_day(s)
        when = "always on" if daily == 24 else f"{daily:g} h a day"
        out[f"MLflow tracking server ({size}, {when})"] = (
            None if hourly is None else round(hourly * hours * daily / 24, 2)
        )
    return out


# A daily EventBridge Scheduler cron expression: minute and hour fixed, every day.
_DAILY_CRON = re.compile(r"cron\((\d{1,2}) (\d{1,2}) \* \* \? \*\)")


def time_of_day(expression: str, variable: str) -> float:
    """The hour of day (fractional) a daily ``cron(M H * * ? *)`` fires."""
    m = _DAILY_CRON.fullmatch(expression.strip())
    if not m or int(m.group(1)) > 59 or int(m.group(2)) > 23:
        raise ValueError(
            f"{variable} = {expression!r}: the estimate reads a daily "
            f"cron(M H * * ? *) only"
        )
    return int(m.group(2)) + int(m.group(1)) / 60


def tracking_server_hours_per_day(settings: dict[str, Any]) -> float:
    """How long the created tracking server runs a day: from the start schedule (or,
    without one, the pipelines' schedule, whose first step starts it) to the stop
    schedule; 24 without a stop schedule."""
    stop = settings.get("mlflow_stop_schedule_expression")
    if stop is None:
        return 24.0
    start_var = "mlflow_start_schedule_expression"
    if settings.get(start_var) is None:
        start_var = "schedule_expression"
    start = time_of_day(settings[start_var], start_var)
    end = time_of_day(stop, "mlflow_stop_schedule_expression")
    return round((end - start) % 24, 2) or 24.0


def budget_problem(estimate_usd: float, budget: float, alert_percent: float) -> str:
    """Why the budget cannot do its job against the estimate, or "". An alert on
    actual spend below the priced estimate fires every month, so it is ignored the
    month it matters."""
    if estimate_usd >= budget:
        return "The budget is below the estimate."
    if estimate_usd >= budget * alert_percent / 100:
        return (
            f"The actual-spend alert ({budget * alert_percent / 100:,.0f} USD) is "
            f"below the estimate: it would fire every month."
        )
    return ""


def serves_on(settings: dict[str, Any], platform: str) -> bool:
    """Whether the environment serves on ``platform`` (eks, ecs; EKS by default)."""
    return platform in settings.get("serving_platforms", ["eks"])


def priced(items: dict[str, float | None]) -> float:
    return sum(v for v in items.values() if v is not None)


def markdown(prices: dict[str, Any] | None = None) -> str:
    p = prices or json.loads(PRICES.read_text())
    lines = [
        f"Prices: {p['region']}, {p['currency']}, as of {p['as_of']} "
        f"(`infra/cost/prices.json`). Generated by `make cost`.",
        "",
    ]
    totals = {}
    any_unpriced = False
    for env in ENVIRONMENTS:
        items = estimate(env, p)
        totals[env] = priced(items)
        unpriced = [k for k, v in items.items() if v is None]
        any_unpriced = any_unpriced or bool(unpriced)
        settings = platform_settings(env)
        budget = settings["monthly_budget_usd"]
        alert = settings["budget_alert_percent"]
        lines += [f"### {env}", "", "| item | USD / month |", "|---|---:|"]
        lines += [
            f"| {k} | {'not priced' if v is None else f'{v:,.2f}'} |"
            for k, v in items.items()
        ]
        if unpriced:
            verdict = (
                "NOT met"
                if totals[env] >= TARGET_USD
                else f"not known: {', '.join(unpriced)} not priced"
            )
        else:
            verdict = "met" if totals[env] < TARGET_USD else "NOT met"
        problem = budget_problem(totals[env], budget, alert)
        lines += [
            f"| **total{' of the priced items' if unpriced else ''}** "
            f"| **{totals[env]:,.2f}** |",
            "",
            f"Budget in Terraform: {budget:,.0f} USD (alerts at {alert:.0f}% actual, "
            f"{budget * alert / 100:,.0f} USD, and 100% forecast). Target: below "
            f"{TARGET_USD:,.0f} USD: {verdict}."
            + (f" **{problem}**" if problem else ""),
            "",
        ]
    pair = sum(totals.values())
    lines.append(
        f"dev + prod: {pair:,.2f} USD / month"
        + (" plus the unpriced items" if any_unpriced else "")
        + (
            f": above the {TARGET_USD:,.0f} USD target for the pair"
            + (" before the unpriced items are counted" if any_unpriced else "")
            + " (the levers below)."
            if pair >= TARGET_USD
            else "."
        )
    )
    return "\n".join(lines) + "\n"


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(doc):
        raise SystemExit(f"{DOC}: markers {BEGIN} ... {END} not found")
    DOC.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}{END}", doc))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="refresh docs/cost.md")
    args = parser.parse_args(argv)
    text = markdown()
    if args.write:
        write_doc(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
