"""Referloop's benchmark: every figure of issue 5, on this machine, over loopback.

``make bench`` (or ``python -m bench.run``) runs each part against a fresh
database of its own, prints a table, and writes the figures to
``bench/results.json`` (and ``bench/results-<database>.json``). Every speed is a
ratio to a baseline measured in the same run, because absolute times on a
shared two-core machine are noise. ``--quick`` uses smaller data and shorter
runs, for development; ``--database postgresql`` runs on the local PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from importlib import import_module

from .common import ROOT

# (key, what, target as text, check) in the order of the table.
TARGETS = [
    ("form_get_ratio", "GET /r/<token> req/s ÷ hello req/s", ">= 0.25", lambda v: v >= 0.25),
    ("submit_ratio", "form submissions/s ÷ hello req/s", ">= 0.10", lambda v: v >= 0.10),
    ("admin_scale_ratio", "p50 at 100k referrals ÷ p50 at 1k", "<= 1.5", lambda v: v <= 1.5),
    ("admin_queries_max", "most SQL queries of any signed-in page", "<= 10", lambda v: v <= 10),
    ("outbox_ratio", "outbox deliver emails/s ÷ bare smtplib", ">= 0.7", lambda v: v >= 0.7),
    ("send_due_seconds_per_1k_due", "send-due s per 1,000 due (1M contacts)", "report", None),
    ("form_page_bytes", "form page + assets, compressed, bytes", "<= 30,000", lambda v: v <= 3e4),
    ("worker_rss_mb", "peak RSS of one gunicorn worker, MB", "< 120", lambda v: v < 120),
]

# Each part: module in bench/, and the keys it gives.
PARTS = {
    "load": ("bench.load", ["form_get_ratio", "submit_ratio", "worker_rss_mb"]),
    "admin": ("bench.admin_scale", ["admin_scale_ratio", "admin_queries_max"]),
    "outbox": ("bench.outbox", ["outbox_ratio"]),
    "send_due": ("bench.send_due", ["send_due_seconds_per_1k_due"]),
    "page": ("bench.page_bytes", ["form_page_bytes"]),
}


def machine() -> dict:
    """Where the figures came from."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def run(database: str, quick: bool, parts: list[str]) -> dict:
    results: dict = {
        "database": database,
        "quick": quick,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "details": {},
        "seconds": {},
    }
    for part in parts:
        module, keys = PARTS[part]
        print(f"[{part}]", file=sys.stderr, flush=True)
        started = time.monotonic()
        figures = import_module(module).measure(database, quick)
        results["seconds"][part] = round(time.monotonic() - started, 1)
        for key in keys:
            results[key] = figures[key]
        extra = {k: v for k, v in figures.items() if k not in keys and k != "details"}
        results["details"][part] = {**extra, **figures.get("details", {})}
    return results


def table(results: dict) -> str:
    """The figures against their targets, as a plain-text table."""
    rows = [("key", "what", "figure", "target", "")]
    for key, what, target, check in TARGETS:
        if key not in results:
            continue
        value = results[key]
        verdict = "" if check is None else ("met" if check(value) else "MISSED")
        figure = f"{value:,}" if isinstance(value, int) else str(value)
        rows.append((key, what, figure, target, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    kind = "quick run" if results["quick"] else "full run"
    return f"Referloop benchmark on {results['database']} ({kind}):\n" + "\n".join(lines)


def missed(results: dict) -> list[str]:
    return [
        key
        for key, _, _, check in TARGETS
        if check is not None and key in results and not check(results[key])
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="smaller data, shorter runs")
    parser.add_argument(
        "--only", action="append", choices=sorted(PARTS), help="run only this part (repeatable)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    results = run(args.database, args.quick, args.only or list(PARTS))
    text = json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    (ROOT / "bench" / "results.json").write_text(text)
    (ROOT / "bench" / f"results-{args.database}.json").write_text(text)
    print(table(results))
    print(f"Figures written to bench/results.json and bench/results-{args.database}.json.")
    return 1 if args.strict and missed(results) else 0


if __name__ == "__main__":
    sys.exit(main())
