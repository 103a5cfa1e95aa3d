"""``dag_parse``: how long the DAG processor takes to parse each file of ``dags/``.

Measured as Airflow's DAG processor does it: the long-lived manager process pre-imports the
Airflow modules a file names (``parsing_pre_import_modules``, on by default), freezes its heap
for the garbage collector and forks one child per file; the child builds a ``BundleDagBag`` of that file (import of the file and of
everything it imports outside Airflow, DAG construction, validation) and serialises its DAGs.
``parse_s`` is the DagBag part, the figure ``airflow dags report`` shows; ``process_s`` adds
the serialisation. Each file is parsed ``REPEATS`` times, a fresh fork each time; the figures
are the medians per file, ``max_parse_s`` the largest.
"""

from __future__ import annotations

import gc
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import isolate_airflow
from benchmarks.measure import median

SCENARIO = "dag_parse"
REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"
REPEATS = 5


def parse_in_fork(path: Path) -> dict[str, Any]:
    """Fork; the child parses ``path`` as the DAG processor's child does and reports timings."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: parse, report, leave without running the parent's cleanup
        os.close(read_end)
        try:
            report = _parse(path)
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            report = {"parse_s": None, "dags": [], "errors": {str(path): repr(error)[:500]}}
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks) or b"{}")


def _parse(path: Path) -> dict[str, Any]:
    import structlog
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.dag_processing.processor import _serialize_dags

    started = time.perf_counter()
    bag = BundleDagBag(dag_folder=str(path), bundle_path=DAGS, bundle_name="dags-folder", load_op_links=False)
    parsed = time.perf_counter()
    _serialize_dags(bag, structlog.get_logger())
    done = time.perf_counter()
    return {"parse_s": parsed - started, "process_s": done - started, "dags": sorted(bag.dag_ids),
            "errors": {str(k): str(v)[:500] for k, v in bag.import_errors.items()}}


def pre_import(path: Path) -> None:
    """What the DAG processor manager does before forking for a file."""
    import structlog
    from airflow.dag_processing.processor import _pre_import_airflow_modules

    _pre_import_airflow_modules(str(path), structlog.get_logger())


def run(repeats: int = REPEATS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="partner-sync-bench-") as tmp:
        isolate_airflow(Path(tmp))
        import airflow.dag_processing.processor  # noqa: F401 - what the DAG processor has loaded

        parse_s: dict[str, float] = {}
        process_s: dict[str, float] = {}
        errors: dict[str, str] = {}
        for path in sorted(DAGS.glob("*.py")):
            pre_import(path)
            gc.freeze()  # as the manager does before its parsing loop (no GC of its heap in children)
            runs = [parse_in_fork(path) for _ in range(repeats)]
            errors.update({k: v for report in runs for k, v in report.get("errors", {}).items()})
            timed = [report for report in runs if report.get("parse_s") is not None]
            if timed:
                parse_s[path.name] = round(median(report["parse_s"] for report in timed), 3)
                process_s[path.name] = round(median(report["process_s"] for report in timed), 3)
    return {
        "max_parse_s": max(parse_s.values(), default=None),
        "parse_s": parse_s,
        "max_process_s": max(process_s.values(), default=None),
        "process_s": process_s,
        "files": len(parse_s),
        "repeats": repeats,
        "import_errors": errors,
    }
