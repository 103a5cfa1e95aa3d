"""partner-sync benchmark: ``python benchmarks/run.py [SCENARIO ...]`` (all when none is named).

Each scenario starts its own sandbox with the real rate limits on, seeds it, measures, and
prints one JSON object on one line to stdout (``"scenario"`` plus its figures); a readable
summary with the targets of issue #10 goes to stderr. Scenarios:

- ``referral_poll_10k``: 10,000 referrals, first sync and unchanged re-run;
- ``deal_push_1k``: 1,000 ``#Microsoft`` and 200 ``#AWS`` deals pushed, then pushed again;
- ``webhook_latency``: 50 signed webhooks on a running Airflow, delivery → partner record;
- ``dag_parse``: parse time of every DAG file as the DAG processor parses it.

Every scenario runs in a child process of its own, so its peak RSS, its rate limiters and its
caches are its own. ``--quick`` runs small versions (for trying the benchmark out; the figures
of record come from full runs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # ``python benchmarks/run.py`` puts benchmarks/ first, not the repo
    sys.path.insert(0, str(REPO))

from benchmarks.measure import figure_line, machine, summary, verdicts  # noqa: E402

SCENARIOS = ("referral_poll_10k", "deal_push_1k", "webhook_latency", "dag_parse")


def scenario_figures(name: str, quick: bool) -> dict[str, Any]:
    """Run one scenario in this process; its figures."""
    if name == "referral_poll_10k":
        from benchmarks import referral_poll

        return referral_poll.run(1000 if quick else referral_poll.REFERRALS)
    if name == "deal_push_1k":
        from benchmarks import deal_push

        return deal_push.run(100, 20) if quick else deal_push.run()
    if name == "webhook_latency":
        from benchmarks import webhook_latency

        return webhook_latency.run(10) if quick else webhook_latency.run()
    if name == "dag_parse":
        from benchmarks import dag_parse

        return dag_parse.run(2 if quick else dag_parse.REPEATS)
    raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")


def child(name: str, result_path: Path, quick: bool) -> int:
    """``--child``: run one scenario, write ``{"figures"|"error", "machine"}`` to ``result_path``."""
    before = machine()
    started = time.monotonic()
    try:
        outcome: dict[str, Any] = {"figures": scenario_figures(name, quick)}
    except BaseException as error:  # noqa: BLE001 - reported by the parent
        traceback.print_exc()
        outcome = {"error": f"{type(error).__name__}: {error}"}
    after = machine()
    outcome["machine"] = {"cpus": before["cpus"], "loadavg_before": before["loadavg"],
                          "loadavg_after": after["loadavg"], "scenario_s": round(time.monotonic() - started, 1)}
    result_path.write_text(json.dumps(outcome, default=str))
    return 0 if "figures" in outcome else 1


def run_scenario(name: str, quick: bool) -> dict[str, Any]:
    """Run one scenario in a child process (its output goes to our stderr); its result line."""
    with tempfile.TemporaryDirectory(prefix="partner-sync-bench-") as tmp:
        result_path = Path(tmp) / "result.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--result", str(result_path)]
        if quick:
            command.append("--quick")
        completed = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, cwd=REPO, check=False)
        if not result_path.exists():
            return {"error": f"the scenario process exited with {completed.returncode} and no result"}
        outcome = json.loads(result_path.read_text())
    figures = outcome.get("figures") or {"error": outcome.get("error")}
    figures = {**figures, "machine": outcome.get("machine")}
    if quick:
        figures["quick"] = True
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(SCENARIOS)}")
    parser.add_argument("--quick", action="store_true", help="small versions of the scenarios")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.result, args.quick)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    failed = False
    for name in args.scenarios or SCENARIOS:
        print(f"-- {name}: running (load average {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
        figures = run_scenario(name, args.quick)
        print(figure_line(name, figures), flush=True)
        print(summary(name, figures), file=sys.stderr, flush=True)
        failed = failed or "error" in figures or not all(verdicts(name, figures).values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
