"""``webhook_latency``: HubSpot webhook delivery → partner record, on a running Airflow.

The README's stack, configured as the demo runs it (:class:`partner_sync.devstack.DevStack`:
the rate-limited sandbox, api-server with the webhook receiver, scheduler, dag-processor,
triggerer; LocalExecutor; metadata in a fresh Postgres database when the machine has one, else
SQLite) with the HubSpot emulator delivering signed webhooks (``deal.creation`` and
``deal.propertyChange``) to the receiver. Once the first scheduled runs that every DAG starts with the stack are over and one
warm-up deal went through, deals are created in HubSpot one at a time, ``INTERVAL_S`` apart,
every fifth one ``#AWS`` and the others ``#Microsoft``: each creation is one signed delivery,
one ``hubspot_deal_sync`` run triggered by the receiver, one referral or opportunity created.

Latency of a deal = the partner record's creation time (``createdDateTime`` of the referral,
``CreatedDate`` of the opportunity, stamped by the emulator) minus the time the webhook
carrying its ``deal.creation`` was first sent (the emulator's delivery log). Both clocks are
this machine's. ``stages_p50_s`` splits it: receiver → run queued → ``plan`` starts → ends →
the push task starts → the record exists. ``airflow_cpu_s_per_webhook``: CPU time the Airflow
processes spent per webhook (the figure that decides how the latency degrades on a busy
machine).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from benchmarks.deal_push import deal_objects
from benchmarks.measure import percentile

SCENARIO = "webhook_latency"
DEALS = 50
#: seconds between two deal creations (each its own webhook delivery and DAG run): 15 a minute,
#: a busy sales team's peak. Each webhook costs the Airflow processes ~2.5 CPU-seconds (four task
#: processes), so on a shared 2-core machine a much faster stream measures the CPU queue, not
#: the latency
INTERVAL_S = 4.0
AWS_EVERY = 5
FIRST_DEAL_ID = 7_000_000
#: how long to wait for the last partner record after the last deal was created
SETTLE_S = 180.0
POSTGRES_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def metadata_database() -> Iterator[str | None]:
    """A fresh Postgres database for Airflow's metadata (URL), dropped afterwards; ``None``
    (SQLite) when the machine has no reachable Postgres."""
    import sqlalchemy as sa

    try:
        admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        name = f"partner_sync_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception:  # noqa: BLE001 - no server: SQLite
        yield None
        return
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with contextlib.suppress(Exception), admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(deals: int = DEALS, interval_s: float = INTERVAL_S) -> dict[str, Any]:
    from partner_sync.devstack import DevStack
    from partner_sync.sandbox.process import free_port

    with tempfile.TemporaryDirectory(prefix="partner-sync-bench-") as tmp, metadata_database() as metadata_url:
        home = Path(tmp)
        options: dict[str, Any] = {"isolated": True}  # this process's own AIRFLOW_* settings stay out
        stack = DevStack(
            airflow_home=home / "airflow", api_port=free_port(), seed="empty", rate_limits=True,
            executor="LocalExecutor", metadata_url=metadata_url,
            store_url=f"sqlite:///{home / 'partner_sync.db'}",
            **{name: value for name, value in options.items() if name in DevStack.__dataclass_fields__},
        )
        started = time.monotonic()
        with stack:
            startup_s = round(time.monotonic() - started, 1)
            rest = Rest(stack)
            rest.wait_for_run("hubspot_properties_setup", "devstack-properties-setup")
            rest.wait_for_dag("hubspot_deal_sync")
            idle_after_s = rest.wait_until_idle()
            figures = measure(stack, rest, deals, interval_s)
            figures.update(startup_s=startup_s, idle_after_s=idle_after_s, metadata_db="postgres" if metadata_url else "sqlite",
                           executor="LocalExecutor", interval_s=interval_s)
            return figures


def measure(stack: Any, rest: Rest, deals: int, interval_s: float) -> dict[str, Any]:
    from partner_sync.sandbox.connections import SANDBOX_SECRETS

    hubspot = stack.sandbox.hubspot_url
    requests.post(f"{hubspot}/_sandbox/webhooks", json={
        "target_url": stack.webhook_url, "client_secret": SANDBOX_SECRETS["hubspot_webhook_secret"],
        "subscriptions": ["deal.creation", "deal.propertyChange"],
    }, timeout=10).raise_for_status()

    warm_up = str(FIRST_DEAL_ID - 1)  # one deal first, not measured: workers and connections warm
    stack.sandbox.seed_objects("hubspot", deal_objects(int(warm_up), "#Microsoft"))
    wait_for_partner_records(stack.sandbox, {warm_up: "microsoft"}, SETTLE_S)

    systems: dict[str, str] = {}
    cpu_before = airflow_cpu_s(stack)
    for index in range(deals):
        deal_id = FIRST_DEAL_ID + index
        tag = "#AWS" if index % AWS_EVERY == AWS_EVERY - 1 else "#Microsoft"
        systems[str(deal_id)] = "aws" if tag == "#AWS" else "microsoft"
        stack.sandbox.seed_objects("hubspot", deal_objects(deal_id, tag))
        time.sleep(interval_s)

    created = wait_for_partner_records(stack.sandbox, systems, SETTLE_S)
    cpu_after = airflow_cpu_s(stack)
    cpu_s = {name: round(cpu_after[name] - cpu_before.get(name, 0.0), 1) for name in cpu_after}
    delivered = first_deliveries(hubspot)
    latencies = {deal_id: created[deal_id] - delivered[deal_id]
                 for deal_id in systems if deal_id in created and deal_id in delivered}
    by_system = {system: [latencies[d] for d, s in systems.items() if s == system and d in latencies]
                 for system in ("microsoft", "aws")}
    values = list(latencies.values())
    runs = rest.runs("hubspot_deal_sync")
    stages = stage_medians(rest, runs, systems, delivered, created)
    return {
        "deals": deals,
        "p50_s": round(percentile(values, 0.5), 2) if values else None,
        "p95_s": round(percentile(values, 0.95), 2) if values else None,
        "max_s": round(max(values), 2) if values else None,
        "p50_s_microsoft": round(percentile(by_system["microsoft"], 0.5), 2) if by_system["microsoft"] else None,
        "p50_s_aws": round(percentile(by_system["aws"], 0.5), 2) if by_system["aws"] else None,
        "airflow_cpu_s_per_webhook": round(sum(cpu_s.values()) / deals, 2),
        "airflow_cpu_s_by_process": cpu_s,
        "partner_records_missing": sorted(set(systems) - set(created)),
        "deliveries_missing": sorted(set(systems) - set(delivered)),
        "dag_runs": len(runs),
        "dag_run_states": {state: sum(1 for r in runs if r["state"] == state) for state in {r["state"] for r in runs}},
        "stages_p50_s": stages,
    }


#: the path of one deal, in order: (stage name, from moment, to moment)
STAGES = (
    ("receiver_to_run_queued", "delivered", "run_queued"),
    ("run_queued_to_plan_start", "run_queued", "plan_start"),
    ("plan_task", "plan_start", "plan_end"),
    ("plan_end_to_push_start", "plan_end", "push_start"),
    ("push_start_to_record", "push_start", "created"),
)


def stage_medians(rest: Rest, runs: list[dict[str, Any]], systems: dict[str, str],
                  delivered: dict[str, float], created: dict[str, float]) -> dict[str, float]:
    """Median seconds of each stage between delivery and record (where the time goes)."""
    samples: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    for dag_run in runs:
        events = (dag_run.get("conf") or {}).get("events") or []
        deal_id = str(events[0].get("objectId")) if events else None
        if deal_id not in systems or deal_id not in delivered or deal_id not in created:
            continue
        tasks = {ti["task_id"]: ti for ti in rest.task_instances("hubspot_deal_sync", dag_run["dag_run_id"])}
        push = tasks.get("push_aws" if systems[deal_id] == "aws" else "push_microsoft") or {}
        plan = tasks.get("plan") or {}
        moments = {
            "delivered": delivered[deal_id], "created": created[deal_id],
            "run_queued": _epoch_or_none(dag_run.get("queued_at")),
            "plan_start": _epoch_or_none(plan.get("start_date")), "plan_end": _epoch_or_none(plan.get("end_date")),
            "push_start": _epoch_or_none(push.get("start_date")),
        }
        for name, start, end in STAGES:
            if moments[start] is not None and moments[end] is not None:
                samples[name].append(moments[end] - moments[start])
    return {name: round(percentile(values, 0.5), 2) for name, values in samples.items() if values}


def airflow_cpu_s(stack: Any) -> dict[str, float]:
    """CPU seconds used so far by each Airflow process with its descendants (the scheduler's
    include its executor workers and task processes): what webhooks cost the machine, whatever
    else runs on it. Exited task processes count through their reaped parents."""
    import psutil

    used: dict[str, float] = {}
    for name, process in stack.processes.items():
        try:
            tree = [psutil.Process(process.pid)]
            tree += tree[0].children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        used[name] = 0.0
        for member in tree:
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            used[name] += times.user + times.system + times.children_user + times.children_system
    return used


def wait_for_partner_records(sandbox: Any, systems: dict[str, str], settle_s: float) -> dict[str, float]:
    """Epoch seconds at which each deal's partner record was created, waiting at most
    ``settle_s`` for the last ones."""
    deadline = time.monotonic() + settle_s
    while True:
        created = partner_records(sandbox)
        if set(systems) <= set(created) or time.monotonic() > deadline:
            return created
        time.sleep(1.0)


def partner_records(sandbox: Any) -> dict[str, float]:
    """``{deal id: creation epoch seconds}`` of the referrals and opportunities made for deals."""
    created: dict[str, float] = {}
    for referral in sandbox.state("partner_center")["referrals"]:
        if referral.get("externalReferenceId"):
            created[str(referral["externalReferenceId"])] = _epoch(referral["createdDateTime"])
    for opportunity in sandbox.state("partner_central")["opportunities"]:
        if opportunity.get("PartnerOpportunityIdentifier"):
            created[str(opportunity["PartnerOpportunityIdentifier"])] = _epoch(opportunity["CreatedDate"])
    return created


def first_deliveries(hubspot_url: str) -> dict[str, float]:
    """``{deal id: epoch seconds}`` of the first attempt to deliver its ``deal.creation``."""
    log = requests.get(f"{hubspot_url}/_sandbox/webhooks/deliveries", timeout=30).json()["deliveries"]
    sent: dict[str, float] = {}
    for delivery in log:
        for event in delivery["events"]:
            if event["subscriptionType"] != "deal.creation":
                continue
            moment = int(delivery["timestamp"]) / 1000
            deal_id = str(event["objectId"])
            sent[deal_id] = min(moment, sent.get(deal_id, moment))
    return sent


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _epoch_or_none(text: str | None) -> float | None:
    return _epoch(text) if text else None


class Rest:
    """The few Airflow REST API v2 calls the scenario needs."""

    def __init__(self, stack: Any) -> None:
        self.base = stack.api_url
        self.headers = {"Authorization": f"Bearer {stack.token()}"}

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.base}/api/v2{path}", headers=self.headers, timeout=60)

    def wait_for_dag(self, dag_id: str, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.get(f"/dags/{dag_id}").ok:
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAG {dag_id} was not parsed within {timeout_s} s")
            time.sleep(1)

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 300) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            response = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")
            state = response.json().get("state") if response.ok else None
            if state in ("success", "failed"):
                if state != "success":
                    raise RuntimeError(f"{dag_id} run {run_id} ended {state}")
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} did not finish within {timeout_s} s")
            time.sleep(1)

    def wait_until_idle(self, timeout_s: float = 300) -> float:
        """Wait until no DAG run is queued or running (the first scheduled runs of every DAG
        start with the stack); returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            response = self.get("/dags/~/dagRuns?state=queued&state=running&limit=1")
            if response.ok and response.json().get("total_entries") == 0:
                break
            time.sleep(2)
        return round(time.monotonic() - started, 1)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        response.raise_for_status()
        return response.json()["task_instances"]

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/dags/{dag_id}/dagRuns?limit=1000")
        response.raise_for_status()
        return response.json()["dag_runs"]
