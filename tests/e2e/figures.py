"""Figures of the end-to-end runs (durations, runs, retries), printed in the terminal summary."""

from __future__ import annotations

from typing import Any

#: section -> {figure: value}, printed at the end of the session by ``conftest.py``
FIGURES: dict[str, dict[str, Any]] = {}


def record(section: str, **figures: Any) -> None:
    """Add (or overwrite) figures of one section."""
    FIGURES.setdefault(section, {}).update(figures)
