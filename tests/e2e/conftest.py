"""Fixtures of the end-to-end suite: real Airflow stacks on Postgres, and the figures report.

- ``local_stack`` (session): LocalExecutor stack shared by the end-to-end, bad-input, soak and
  secret-hygiene modules (one start instead of four on a 2-core CI machine);
- ``core_report`` (session): :func:`tests.e2e.flows.run_core_flows` run once on it;
- the Celery module starts its own stack (CeleryExecutor + Redis) and stops it before the
  LocalExecutor stack starts: modules are ordered so the two never run at once.

Figures (durations, runs, retries) go to :data:`tests.e2e.figures.FIGURES` and are printed in the terminal
summary, so CI output shows them without ``-s``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.figures import FIGURES, record
from tests.e2e.flows import FlowReport, run_core_flows
from tests.e2e.scenario import RANGE_CORE
from tests.e2e.stack import LEFTOVERS, E2EStack, running_stack

#: our e2e modules in the order they run (the Celery stack first and alone; hygiene last)
MODULE_ORDER = ("test_stack_cleanup", "test_celery", "test_end_to_end", "test_bad_input", "test_fault_soak", "test_secret_hygiene")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the e2e modules in :data:`MODULE_ORDER`, keeping everything else where it was."""
    positions = [index for index, item in enumerate(items) if _e2e_rank(item) is not None]
    if not positions:
        return
    ordered = sorted((items[index] for index in positions), key=lambda item: _e2e_rank(item))
    for index, item in zip(positions, ordered):
        items[index] = item


def _e2e_rank(item: pytest.Item) -> int | None:
    """Other e2e modules (with stacks of their own) first, while no stack of ours runs."""
    path = Path(str(item.fspath))
    if path.parent.name != "e2e" or path.parent.parent.name != "tests":
        return None
    return MODULE_ORDER.index(path.stem) if path.stem in MODULE_ORDER else -1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("partner-sync end-to-end figures")
    for section, figures in FIGURES.items():
        terminalreporter.write_line(f"{section}:")
        for name, value in figures.items():
            terminalreporter.write_line(f"  {name}: {value}")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    """LocalExecutor + Postgres stack (see the module docstring)."""
    home = Path(os.environ.get("PARTNER_SYNC_E2E_HOME") or tmp_path_factory.mktemp("airflow-local"))
    with running_stack(home, "LocalExecutor") as stack:
        record("LocalExecutor stack", start_s=round(stack.started_in_s, 1), airflow_home=str(home))
        started = time.monotonic()
        yield stack
        record("LocalExecutor stack", lifetime_s=round(time.monotonic() - started, 1))
    record("LocalExecutor stack", processes_left_after_the_demo_stopped=len(LEFTOVERS.get(stack.stack_id, [])))


@pytest.fixture(scope="session")
def core_report(local_stack: E2EStack) -> FlowReport:
    """The core scenario, once per session, on the LocalExecutor stack."""
    started = time.monotonic()
    report = run_core_flows(local_stack, "Local", RANGE_CORE)
    record("core scenario (LocalExecutor)", duration_s=round(time.monotonic() - started, 1), **report.timings)
    return report
