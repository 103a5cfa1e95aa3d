"""Typed readers of the package's Airflow Variables (SPEC §2, "Configuration").

Each setting has a pure ``parse_*`` function (raw Variable text in, typed value or
:class:`ConfigError` out) and a reader that fetches the Variable with
``airflow.sdk.Variable.get(key, default=None)``. Readers are called inside tasks, never at
import or DAG-parse time. An unset Variable, or one holding only whitespace, means the default.
Every :class:`ConfigError` message starts with the Variable's name and then says what is wrong,
so the failed task's log tells the operator exactly what to fix.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import urlsplit

from partner_sync.conflicts import StrategyConfig

CONFLICT_STRATEGIES = "partner_sync_conflict_strategies"
AUDIT_ARCHIVE = "partner_sync_audit_archive"
AWS_SOLUTION_ID = "partner_sync_aws_solution_id"
AWS_AUTO_SUBMIT = "partner_sync_aws_auto_submit"
AWS_SNAPSHOT_TEMPLATE = "partner_sync_aws_snapshot_template"

#: the template AWS's own engagement-from-opportunity flow snapshots with (UNCONFIRMED as the
#: name partners must use; the Variable overrides it)
DEFAULT_SNAPSHOT_TEMPLATE = "AWSOpportunitySummary"
AUDIT_ARCHIVE_DIRNAME = "partner-sync-audit"

#: botocore model ``SolutionIdentifier`` pattern
SOLUTION_ID_PATTERN = re.compile(r"S-[0-9]{1,19}")
#: botocore model ``ResourceTemplateName`` pattern (ResourceSnapshotTemplateIdentifier)
SNAPSHOT_TEMPLATE_PATTERN = re.compile(r"[a-zA-Z0-9]{3,80}")


class ConfigError(ValueError):
    """An Airflow Variable holds a value the package cannot use."""

    def __init__(self, variable: str, fault: str) -> None:
        super().__init__(f"Airflow Variable {variable!r}: {fault}")
        self.variable = variable
        self.fault = fault


def airflow_home() -> str:
    """``$AIRFLOW_HOME``, or Airflow's own default ``~/airflow``."""
    return os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")


def parse_conflict_strategies(raw: str | dict | None) -> StrategyConfig:
    """``{"default": STRATEGY, "fields": {field: STRATEGY}}`` → :class:`StrategyConfig`."""
    if _unset(raw):
        return StrategyConfig()
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ConfigError(CONFLICT_STRATEGIES, f"not valid JSON ({err})") from err
    try:
        return StrategyConfig.from_mapping(raw)
    except ValueError as err:
        raise ConfigError(CONFLICT_STRATEGIES, str(err)) from err


def parse_audit_archive(raw: str | None, home: str | None = None) -> str:
    """``file:///abs/path`` or ``s3://bucket[/prefix]`` (no trailing slash)."""
    if _unset(raw):
        return f"file://{(home or airflow_home()).rstrip('/')}/{AUDIT_ARCHIVE_DIRNAME}"
    if not isinstance(raw, str):
        raise ConfigError(AUDIT_ARCHIVE, f"expected a URL string, got {type(raw).__name__}")
    location = raw.strip()
    parts = urlsplit(location)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigError(AUDIT_ARCHIVE, f"{location!r} names no bucket; expected s3://bucket/prefix")
    elif parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigError(AUDIT_ARCHIVE, f"{location!r} is not an absolute file:// path; expected file:///path")
    else:
        raise ConfigError(AUDIT_ARCHIVE, f"{location!r} must start with file:// or s3://")
    if parts.scheme == "file" and not parts.path.strip("/"):
        raise ConfigError(AUDIT_ARCHIVE, f"{location!r} is the filesystem root; name a directory")
    return location.rstrip("/")


def parse_aws_solution_id(raw: str | None) -> str | None:
    """``None`` when unset, else a Partner Central solution id such as ``S-0012345``."""
    if _unset(raw):
        return None
    if not isinstance(raw, str):
        raise ConfigError(AWS_SOLUTION_ID, f"expected a string, got {type(raw).__name__}")
    solution_id = _unquote(raw.strip())
    if not SOLUTION_ID_PATTERN.fullmatch(solution_id):
        raise ConfigError(AWS_SOLUTION_ID, f"{solution_id!r} does not match {SOLUTION_ID_PATTERN.pattern}")
    return solution_id


def parse_aws_auto_submit(raw: str | bool | None) -> bool:
    """``true`` / ``false`` (any case, JSON or plain text); default false."""
    if _unset(raw):
        return False
    if isinstance(raw, bool):
        return raw
    if not isinstance(raw, str):
        raise ConfigError(AWS_AUTO_SUBMIT, f"expected true or false, got {type(raw).__name__}")
    text = _unquote(raw.strip()).lower()
    if text not in ("true", "false"):
        raise ConfigError(AWS_AUTO_SUBMIT, f"expected true or false, got {raw!r}")
    return text == "true"


def parse_aws_snapshot_template(raw: str | None) -> str:
    """The ResourceSnapshotTemplateIdentifier for CreateResourceSnapshot; default ``AWSOpportunitySummary``."""
    if _unset(raw):
        return DEFAULT_SNAPSHOT_TEMPLATE
    if not isinstance(raw, str):
        raise ConfigError(AWS_SNAPSHOT_TEMPLATE, f"expected a string, got {type(raw).__name__}")
    template = _unquote(raw.strip())
    if not SNAPSHOT_TEMPLATE_PATTERN.fullmatch(template):
        raise ConfigError(AWS_SNAPSHOT_TEMPLATE, f"{template!r} does not match {SNAPSHOT_TEMPLATE_PATTERN.pattern}")
    return template


def conflict_strategies() -> StrategyConfig:
    return parse_conflict_strategies(_variable(CONFLICT_STRATEGIES))


def audit_archive() -> str:
    return parse_audit_archive(_variable(AUDIT_ARCHIVE))


def aws_solution_id() -> str | None:
    return parse_aws_solution_id(_variable(AWS_SOLUTION_ID))


def aws_auto_submit() -> bool:
    return parse_aws_auto_submit(_variable(AWS_AUTO_SUBMIT))


def aws_snapshot_template() -> str:
    return parse_aws_snapshot_template(_variable(AWS_SNAPSHOT_TEMPLATE))


def _variable(key: str) -> Any:
    from airflow.sdk import Variable  # at run time only: keeps DAG parsing free of Variable reads

    return Variable.get(key, default=None)


def _unset(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _unquote(text: str) -> str:
    """Accept a JSON string literal (``"S-1"``) as well as bare text."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(decoded, str):
            return decoded.strip()
    return text
