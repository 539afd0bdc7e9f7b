"""Write RESULTS.md (to stdout) from one bench/run.sh results folder.

    python bench/report.py bench/.work/results/run-... --command "make bench ..." --seconds 900

Reads round-<r>.jsonl (one JSON line per run, from the reference run.py or bench/load.py),
export.jsonl, export-checks.jsonl, rss.json, params.env and check-*.txt. Ratios are of the
means over rounds.
"""

import argparse
import json
import re
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path

ORDER = ["project", "textbook", "textbook-persist", "raw", "pgbench"]


def shell(cmd: str) -> str:
    result = subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False)
    return result.stdout.strip()


def machine(db_url: str) -> list[str]:
    mem = shell("free -g | awk '/^Mem:/ {print $2}'")
    cpu = shell("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    pg = shell(f"psql -X -Atc 'SHOW server_version' '{db_url}'")
    load = shell("cut -d' ' -f1-3 /proc/loadavg")
    return [
        f"{shell('nproc')} CPUs ({cpu}), {mem} GB memory, PostgreSQL {pg}; "
        f"load average at the end {load} (other work on the machine moves every target)"
    ]


def load_rows(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("round-*.jsonl")):
        rnd = int(re.search(r"round-(\d+)", path.name).group(1))
        for line in path.read_text().splitlines():
            row = json.loads(line)
            row["round"] = rnd
            rows.append(row)
    return rows


def mean_rates(rows: list[dict]) -> dict[tuple[str, str], float]:
    """Mean requests/s over rounds, by (scenario, target)."""
    runs: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        runs.setdefault((r["scenario"], r["target"]), []).append(r["rps"])
    return {key: statistics.mean(values) for key, values in runs.items()}


def mean_p99(rows: list[dict], scenario: str) -> float | None:
    mine = [r["p99_ms"] for r in rows if r["scenario"] == scenario and r["target"] == "project"]
    return statistics.mean(mine) if mine else None


# The targets: (scenario, anchor, least project/anchor ratio).
RATIO_TARGETS = [
    *((s, "raw", 5.0) for s in ("S1", "S3", "S5", "S6")),
    ("S7", "raw", 3.0),
    ("S2", "raw", 1.0),
    *(
        (s, anchor, least)
        for s in ("S4", "S8")
        for anchor, least in (("textbook", 5.0), ("raw", 0.5))
    ),
]
# Cursor pages of 1,000 rows against the raw anchor's keyset page (S4, 100 rows).
CURSOR_SCENARIOS, CURSOR_ANCHOR, CURSOR_LEAST = ("C1", "C2", "C3", "C4"), ("S4", "raw"), 0.5
P99_LIMIT_MS = 50.0  # every scenario but S3
EXPORT_LIMITS = {"vs_copy": 2.0, "rss_mb": 150.0}
XLSX_LEAST_RATIO = 3.0  # against drf-excel, per 1,000 rows


def mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def targets(rows: list[dict], folder: Path) -> list[str]:
    """Each target of the performance issue, the measured figure and whether it is met."""
    means = mean_rates(rows)
    out = ["| target | measured | goal | |", "|---|---:|---:|---|"]
    for s, anchor, least in RATIO_TARGETS:
        if (s, "project") in means and means.get((s, anchor)):
            ratio = means[s, "project"] / means[s, anchor]
            out.append(
                f"| {s} project/{anchor} | {ratio:.2f} | ≥ {least:g} | {mark(ratio >= least)} |"
            )
    anchor = means.get(CURSOR_ANCHOR)
    for s in CURSOR_SCENARIOS:
        if (s, "project") in means and anchor:
            ratio = means[s, "project"] / anchor
            ok = ratio >= CURSOR_LEAST
            out.append(f"| {s} project / S4 raw | {ratio:.2f} | ≥ {CURSOR_LEAST:g} | {mark(ok)} |")
    for s in sorted({r["scenario"] for r in rows} - {"S3"}):
        p99 = mean_p99(rows, s)
        if p99 is not None:
            out.append(
                f"| {s} p99 | {p99:.1f} ms | < {P99_LIMIT_MS:g} ms | {mark(p99 < P99_LIMIT_MS)} |"
            )
    exported = [json.loads(line) for line in read_lines(folder / "export.jsonl")]
    copy = next((x for x in exported if x["target"].startswith("psql")), None)
    for x in exported:
        if not x["mode"].startswith("/export/"):
            continue
        # COPY writes CSV: the workbook is not held to its time.
        if copy and x.get("format") == "csv" and x["rows"] == copy["rows"]:
            ratio = x["wall_s"] / copy["wall_s"]
            goal = EXPORT_LIMITS["vs_copy"]
            out.append(
                f"| {x['mode']} time / COPY | {ratio:.2f} | ≤ {goal:g} | {mark(ratio <= goal)} |"
            )
        rss, limit = x["server_worker_peak_rss_mb"], EXPORT_LIMITS["rss_mb"]
        out.append(
            f"| {x['mode']} worker peak RSS | {rss} MB | < {limit:g} MB | {mark(rss < limit)} |"
        )
    cost = folder / "xlsx_cost.json"
    if cost.exists():
        x = json.loads(cost.read_text())
        ok = x["ratio"] >= XLSX_LEAST_RATIO
        out.append(
            f"| XLSX per 1,000 rows, drf-excel / project | {x['ratio']:.2f} "
            f"({x['drf_excel_ms_per_1k']:.0f} / {x['project_ms_per_1k']:.0f} ms) | "
            f"≥ {XLSX_LEAST_RATIO:g} | {mark(ok)} |"
        )
    return out


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def table(rows: list[dict]) -> list[str]:
    targets = sorted({r["target"] for r in rows}, key=lambda t: (t not in ORDER, ORDER.index(t)))
    scen = sorted({r["scenario"] for r in rows})
    names = {r["scenario"]: r["name"] for r in rows}
    means = mean_rates(rows)
    ratios = [("project", other) for other in ("raw", "textbook") if other in targets]
    head = ["scenario", *(f"{t} req/s" for t in targets), *(f"{a}/{b}" for a, b in ratios)]
    head += ["project p50 / p99 ms", "errors"]
    out = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for s in scen:
        cells = [f"{s} {names[s]}"]
        cells += [f"{means[s, t]:.1f}" if (s, t) in means else "" for t in targets]
        for a, b in ratios:
            ok = (s, a) in means and means.get((s, b))
            cells.append(f"{means[s, a] / means[s, b]:.2f}" if ok else "")
        mine = [r for r in rows if r["scenario"] == s and r["target"] == "project"]
        if mine:
            p50 = statistics.mean(r["p50_ms"] for r in mine)
            cells.append(f"{p50:.1f} / {mean_p99(rows, s):.1f}")
        else:
            cells.append("")
        cells.append(str(sum(r["errors"] for r in rows if r["scenario"] == s)))
        out.append("| " + " | ".join(cells) + " |")
    return out


def per_run(rows: list[dict]) -> list[str]:
    out = ["| round | scenario | target | req/s | p50 ms | p99 ms | errors | bytes |"]
    out.append("|---:|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        out.append(
            f"| {r['round']} | {r['scenario']} | {r['target']} | {r['rps']:.1f} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | {r.get('bytes', '')} |"
        )
    return out


def exports(folder: Path, n: str | None) -> list[str]:
    path = folder / "export.jsonl"
    if not path.exists():
        return ["Not run (`BENCH_EXPORT=0`)."]
    out = [
        "| target | mode | rows | wall s | ms per 1k rows | server worker peak RSS MB | "
        "stopped by |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    exported = [json.loads(line) for line in path.read_text().splitlines()]
    for x in exported:
        target = "project" if x["target"].startswith("http") else x["target"]
        runs = x.get("runs_s")
        wall = f"{x['wall_s']} (median of {', '.join(map(str, runs))})" if runs else x["wall_s"]
        out.append(
            f"| {target} | {x['mode']} | {x['rows']} | {wall} | "
            f"{x['ms_per_1000_rows']} | {x.get('server_worker_peak_rss_mb', '')} | "
            f"{x.get('stopped_by', '')} |"
        )
    checks = [json.loads(line) for line in read_lines(folder / "export-checks.jsonl")]
    return out + filtered_exports(exported, checks, n)


def filtered_exports(exported: list[dict], checks: list[dict], n: str | None) -> list[str]:
    """What a filtered export (a workbook above Excel's row limit) holds, and whether the
    unfiltered one was refused as it must be."""
    out = []
    limit = next((c["limit"] for c in checks), None)
    for x in exported:
        if x.get("filter"):
            out += [
                "",
                f"N = {n} is more than the {limit or 'most'} data rows an Excel workbook "
                f"holds: the {x['format'].upper()} export is measured with the filter "
                f"`{x['filter']}` (the first customers by id), {x['rows']} rows by its "
                f"X-Row-Count, as many as the unfiltered export holds at N = {x['rows']}; "
                "its time and memory compare with those of runs at N up to the limit.",
            ]
    if checks:
        out += [
            "",
            "Above the limit the unfiltered export must be refused before any row is "
            "written: status 400 and a JSON body whose `detail` names the limit.",
            "",
            "| check | limit | outcome | status | content type | answered in | detail |",
            "|---|---:|---|---:|---|---:|---|",
        ]
        for c in checks:
            outcome = "pass" if c["ok"] else "**fail**"
            status = c["status"] or "no answer"
            detail = c["detail"].replace("|", "\\|").replace("\n", " ")[:200]
            out.append(
                f"| `{c['mode']}` refused | {c['limit']} | {outcome} | {status} | "
                f"{c['content_type']} | {c['seconds']} s | {detail} |"
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--command", required=True)
    ap.add_argument("--seconds", type=int, required=True)
    ap.add_argument("--db-url", required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--short", action="store_true", help="label: not the default parameters")
    a = ap.parse_args()
    rows = load_rows(a.folder)
    params = dict(
        line.split("=", 1)
        for line in (a.folder / "params.env").read_text().splitlines()
        if "=" in line
    )
    rounds = max((r["round"] for r in rows), default=0)
    first = rows[0] if rows else {}
    with_anchors = any(r["target"] != "project" for r in rows)
    driver = first.get("driver", "wrk -t1 (reference run.py); pgbench -M prepared -c2 -j1")
    doc = [
        "# Benchmark results",
        "",
        f"Written by `bench/run.sh` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"in {a.seconds} s. Raw results: `{a.folder.name}` under `bench/.work/results/`.",
        "",
    ]
    if a.short:
        doc += [
            "**Short run**: fewer rows, rounds, seconds or export time than `make bench`'s "
            "defaults (see the command below); it shows the pipeline works, not the "
            "reference measurement.",
            "",
        ]
    doc += [
        f"* Command: `{a.command}`",
        f"* Machine: {machine(a.db_url)[0]}",
        f"* Data: N = {params.get('N')} customers, seeded by {a.seed}; scenario parameters "
        + ", ".join(f"{k}={v}" for k, v in params.items() if k != "N"),
        f"* Load: {rounds} round(s), {first.get('duration', '?')} s measured per run after a "
        f"warm-up, {first.get('conns', '?')} connections; driver {driver}",
        "* Servers: gunicorn, 2 sync workers, 127.0.0.1, no access log; the project with its "
        "production settings (CONN_MAX_AGE 60, LOG_LEVEL=WARNING, throttling raised)",
        "",
        "## Requests per second (mean of rounds)",
        "",
        *table(rows),
        "",
    ]
    if with_anchors:
        doc += [
            "project/raw and project/textbook are ratios of the means: above 1 the project is "
            "faster. Ratios from one run are what count; absolute numbers vary between "
            "machines and runs.",
            "",
        ]
    else:
        doc += ["Project alone (no reference bench): no ratios.", ""]
    if with_anchors:
        doc += ["## Targets", "", *targets(rows, a.folder), ""]
    rss = a.folder / "rss.json"
    if rss.exists():
        workers = json.loads(rss.read_text())
        doc += [
            "## Worker memory after the load",
            "",
            ", ".join(
                f"worker {pid}: RSS {m['VmRSS']} MB, peak {m['VmHWM']} MB"
                for pid, m in workers.items()
            ),
            "",
        ]
    doc += ["## Exports", "", *exports(a.folder, params.get("N")), ""]
    checks = sorted(a.folder.glob("check-*.txt"))
    if checks:
        rc = (a.folder / "check.rc").read_text().strip()
        text = checks[0].read_text()
        diffs = [line[:160] for line in text.splitlines() if line.startswith("DIFF")]
        doc += [
            "## Contract check (reference check.py, textbook vs project)",
            "",
            f"{text.strip().splitlines()[-1]} (exit status {rc}). Differences:",
            "",
            "```",
            *(diffs or ["none"]),
            "```",
            "",
        ]
    doc += ["## Every run", "", *per_run(rows), ""]
    print("\n".join(doc))


if __name__ == "__main__":
    main()
