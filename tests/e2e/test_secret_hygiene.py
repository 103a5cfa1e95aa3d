"""Secret hygiene of the end-to-end runs: no configured secret, no issued token, anywhere.

Runs last in the session (see ``conftest.MODULE_ORDER``), so it searches what the core
scenario, the bad-input runs and the soak wrote on the LocalExecutor stack; the Celery test
runs the same scan on its own stack before stopping it.
"""

from __future__ import annotations

import pytest

from partner_sync.sandbox.connections import SANDBOX_SECRETS
from tests.e2e.figures import record
from tests.e2e.flows import FlowReport
from tests.e2e.secrets_scan import configured_secrets, find_secrets, scan_stack
from tests.e2e.stack import E2EStack

pytestmark = pytest.mark.e2e


def test_the_scanner_finds_what_it_looks_for() -> None:
    secrets = configured_secrets()
    for name, value in SANDBOX_SECRETS.items():
        assert find_secrets(f"Authorization: Bearer {value}", secrets) == [name]
    assert find_secrets('{"access_token": "pcsbx-at-AbCdEfGhIjKlMnOpQrStUv012345"}', secrets)


def test_no_secret_in_task_logs_xcom_notes_audit_or_any_table(local_stack: E2EStack, core_report: FlowReport) -> None:
    report = scan_stack(local_stack)
    record("secret hygiene (LocalExecutor)", **report.searched, hits=len(report.hits))
    assert report.searched.get("task log files", 0) > 20, report.searched
    assert report.searched.get("metadata DB xcom rows", 0) > 20, report.searched
    assert report.searched.get("sync store partner_sync_audit rows", 0) > 20, report.searched
    assert report.searched.get("hubspot notes", 0) > 0, report.searched
    assert not report.hits, "secrets found:\n" + "\n".join(report.hits[:50])
