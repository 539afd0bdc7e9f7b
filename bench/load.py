"""The project's scenarios without the reference bench: a small time-bounded load driver.

    python bench/load.py http://127.0.0.1:8090 --token KEY --params params.env --out r.jsonl
    python bench/load.py --server-pid PID --rss      # the gunicorn workers' memory, as JSON
    python bench/load.py URL --token KEY --export csv --server-pid PID --out export.jsonl
                                                     # full export, median of --repeat (3)
    python bench/load.py URL --token KEY --export xls --query 'sort=id&id__lte=K' ...
                                                     # the export of the rows a filter keeps
    python bench/load.py URL --token KEY --export xls --over-limit ROWS --out checks.jsonl
                                                     # the unfiltered export must be refused
    python bench/load.py URL --token KEY --params params.env --cursor [--wrk LUA] --out r.jsonl
                                                     # cursor pages C1-C4

The scenarios are the reference bench's S1-S8 (same query strings, parameters derived from
the data by bench/run.sh), or with --cursor the project's cursor pages of 1,000 rows, a
first page and a deep one in each order (C1-C4; a deep page's cursor is the next link of a
page started at S2_DATE or S4_ID). Each: one pre-check request that must be 200 with the
expected content type (else exit 1), WARMUP s discarded, then DURATION s measured with
CONNS keep-alive connections, one thread each. Numbers are not comparable with wrk's: this
client is Python and shares the CPU with the server; with --wrk LUA the load comes from wrk
with that reporter script and the reference bench's flags, comparable with its anchors'.
Only loopback targets are accepted.
"""

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

LIST_PATH = "/api/v1/oms/customers/list-simple/"
EXPORT_PATH = LIST_PATH + "export/"
ROW_COUNT_HEADER = "X-Row-Count"  # the rows an export holds, sent before its body
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CONTENT_TYPES = {"S6": "text/csv", "S7": "spreadsheetml"}


def scenarios(p: dict[str, str]) -> list[tuple[str, str, str]]:
    return [
        ("S1", "first page, default size", ""),
        (
            "S2",
            f"size 100, modified>={p['S2_DATE']}, -modified",
            f"?page_size=100&modified_date__gte={p['S2_DATE']}&sort=-modified_date",
        ),
        ("S3", f"deep page {p['S3_PAGE']}, size 10", f"?page={p['S3_PAGE']}&page_size=10"),
        ("S4", f"keyset id>{p['S4_ID']}, size 100", f"?id__gt={p['S4_ID']}&sort=id&page_size=100"),
        ("S5", "size 1000 JSON", "?page_size=1000"),
        ("S6", "size 1000 CSV", "?page_size=1000&format=csv"),
        ("S7", "size 1000 XLSX", "?page_size=1000&format=xls"),
        ("S8", "exact email", f"?email={quote(p['S8_EMAIL'])}"),
    ]


def cursor_scenarios(url: str, token: str, p: dict[str, str]) -> list[tuple[str, str, str]]:
    """C1-C4: (id, name, query string, cursor included)."""

    def next_of(*queries: str) -> str:
        """The next link of the first of ``queries`` that has one (small tables have no
        full page after S2_DATE or S4_ID: the next page of the first page then)."""
        target = urlsplit(url)
        for query in queries:
            conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=60)
            status, _, body = get(conn, LIST_PATH + query, token)
            conn.close()
            link = json.loads(body)["next"] if status == 200 else None
            if link:
                return "?" + urlsplit(link).query
        sys.exit(f"no next page for {queries}: {status} {body[:200]!r}")

    date, after = p["S2_DATE"], p["S4_ID"]
    return [
        ("C1", "cursor, modified_date order, first page, size 1000",
         "?cursor=&sort=modified_date&limit=1000"),
        ("C2", f"cursor, modified_date order, page after {date}, size 1000",
         next_of(f"?cursor=&sort=modified_date&modified_date__gte={date}&limit=1000",
                 "?cursor=&sort=modified_date&limit=1000")),
        ("C3", "cursor, id order, first page, size 1000", "?cursor=&sort=id&limit=1000"),
        ("C4", f"cursor, id order, page after id {after}, size 1000",
         next_of(f"?cursor=&sort=id&id__gt={after}&limit=1000", "?cursor=&sort=id&limit=1000")),
    ]  # fmt: skip


def get(
    conn: http.client.HTTPConnection, path: str, token: str, limit: int | None = None
) -> tuple[int, str, bytes]:
    """Status, content type and body (its first ``limit`` bytes when given)."""
    conn.request("GET", path, headers={"Authorization": f"Token {token}"})
    response = conn.getresponse()
    return response.status, response.getheader("Content-Type", ""), response.read(limit)


def load(host: str, port: int, path: str, token: str, seconds: float, conns: int) -> dict:
    """Every connection sends requests back to back until the deadline."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        mine, bad = [], 0
        while (start := time.perf_counter()) < deadline:
            try:
                status, _, _ = get(conn, path, token)
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
                continue
            mine.append(time.perf_counter() - start)
            bad += status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.5) if latencies else 0.0,
        "p99_ms": pct(0.99) if latencies else 0.0,
        "errors": errors[0],
    }


def load_with_wrk(url: str, token: str, seconds: float, conns: int, reporter: str) -> dict:
    """wrk -t1 -c CONNS for ``seconds``, with the reference bench's reporter script (one
    ``WRKJSON {...}`` line with exact percentiles)."""
    command = [
        *("wrk", "-t1", f"-c{conns}", f"-d{round(seconds)}s", "--timeout", "60s"),
        *("-s", reporter, "-H", f"Authorization: Token {token}", url),
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        sys.exit(f"wrk output not understood:\n{out}")
    r = json.loads(line.removeprefix("WRKJSON "))
    return {
        "requests": r["requests"],
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["lat_p50_us"] / 1000,
        "p99_ms": r["lat_p99_us"] / 1000,
        "errors": sum(v for k, v in r.items() if k.startswith("err_")),
    }


def worker_rss(master: int) -> dict:
    """VmRSS and VmHWM (peak since start) of each child of the gunicorn master, in MB."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True, check=False
    ).stdout
    result = {}
    for pid in out.split():
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)
        result[pid] = fields
    return result


def export_query(fmt: str, query: str) -> str:
    return f"?format={fmt}" + (f"&{query}" if query else "")


def download(url: str, token: str, path: str) -> tuple[float, int, int, str | None]:
    """One full download of an export, read as it streams: wall seconds, bytes, lines and
    the rows the response says it holds (X-Row-Count)."""
    target = urlsplit(url)
    conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=600)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Token {token}"})
    response = conn.getresponse()
    size = lines = 0
    while chunk := response.read(1 << 20):
        size += len(chunk)
        lines += chunk.count(b"\n")
    wall = time.perf_counter() - started
    conn.close()
    if response.status != 200:
        sys.exit(f"{path}: status {response.status}")
    return wall, size, lines, response.getheader(ROW_COUNT_HEADER)


def export(url: str, token: str, fmt: str, query: str, server_pid: int | None, repeat: int) -> dict:
    """The median of ``repeat`` downloads of the rows ``query`` keeps (every row when it is
    empty); their rows (X-Row-Count, else CSV lines less the header) and the workers' peak
    RSS since they started (restart the server first)."""
    runs = [download(url, token, EXPORT_PATH + export_query(fmt, query)) for _ in range(repeat)]
    wall = statistics.median(run[0] for run in runs)
    _, size, lines, counted = runs[-1]
    rows = int(counted) if counted else (lines - 1 if fmt == "csv" else None)
    peaks = [w.get("VmHWM", 0) for w in worker_rss(server_pid).values()] if server_pid else []
    return {
        "target": "project",
        "mode": "/export/" + export_query(fmt, query),
        "format": fmt,
        "filter": query,
        "rows": rows if rows is not None else "",
        "bytes": size,
        "wall_s": round(wall, 2),
        "runs_s": [round(run[0], 2) for run in runs],
        "ms_per_1000_rows": round(1000 * wall / rows * 1000, 2) if rows else "",
        "server_worker_peak_rss_mb": max(peaks, default=""),
        "stopped_by": "end of data",
    }


def refused_export(url: str, token: str, fmt: str, limit: int) -> dict:
    """One unfiltered export of a table of more than ``limit`` rows, which the service must
    refuse before writing any row: 400, a JSON body whose detail names ``limit``. Any
    other answer, or none, is recorded as a failed check rather than raised: the rest of
    the bench still runs and the report says what came back."""
    target = urlsplit(url)
    conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=120)
    started = time.perf_counter()
    try:
        status, ctype, body = get(conn, EXPORT_PATH + export_query(fmt, ""), token, 64 * 1024)
    except (OSError, http.client.HTTPException) as error:
        status, ctype, body = None, "", repr(error).encode()
    seconds = time.perf_counter() - started
    conn.close()
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        detail = None
    ok = status == 400 and "json" in ctype and isinstance(detail, str) and str(limit) in detail
    if not isinstance(detail, str):  # what came instead, readable in a report
        try:
            detail = body.decode()[:200]
        except UnicodeDecodeError:
            detail = f"not text: {len(body)} bytes read of {ctype or 'no content type'}"
    return {
        "check": "refused above limit",
        "mode": "/export/" + export_query(fmt, ""),
        "limit": limit,
        "ok": ok,
        "status": status,
        "content_type": ctype,
        "seconds": round(seconds, 3),
        "detail": detail,
    }


def append(out: str | None, record: dict) -> None:
    """One JSON line at the end of ``out``, when given."""
    if out:
        with open(out, "a") as f:
            f.write(json.dumps(record) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("url", nargs="?")
    ap.add_argument("--token")
    ap.add_argument("--params", help="KEY=VALUE lines (S2_DATE, S3_PAGE, S4_ID, S8_EMAIL)")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--label", default="project")
    ap.add_argument("--out", help="append one JSON line per scenario")
    ap.add_argument("--server-pid", type=int)
    ap.add_argument("--rss", action="store_true", help="print the workers' memory and exit")
    ap.add_argument("--export", choices=["csv", "xls"], help="download the full export")
    ap.add_argument("--query", default="", help="exports: filters, e.g. 'sort=id&id__lte=9'")
    ap.add_argument(
        "--over-limit",
        type=int,
        metavar="ROWS",
        help="exports: check that the unfiltered export of a table above ROWS rows is "
        "refused (400, JSON detail naming ROWS); the answer is recorded, exit status 0",
    )
    ap.add_argument("--repeat", type=int, default=3, help="exports: downloads, median wall time")
    ap.add_argument("--cursor", action="store_true", help="the cursor scenarios C1-C4")
    ap.add_argument("--wrk", metavar="LUA", help="load with wrk and this reporter script")
    a = ap.parse_args()
    if a.rss:
        print(json.dumps(worker_rss(a.server_pid)))
        return
    if a.url and urlsplit(a.url).hostname not in LOOPBACK:
        sys.exit(f"refusing to load {a.url}: only loopback targets are allowed")
    if a.export:
        if not (a.url and a.token):
            ap.error("give URL and --token")
        if a.over_limit:
            r = refused_export(a.url, a.token, a.export, a.over_limit)
            print(
                f"{r['mode']} above {a.over_limit} rows refused: "
                f"{'pass' if r['ok'] else 'FAIL'} ({r['status']} {r['content_type']} in "
                f"{r['seconds']} s: {r['detail'][:120]})"
            )
        else:
            r = export(a.url, a.token, a.export, a.query, a.server_pid, a.repeat)
            print(json.dumps(r))
        append(a.out, r)
        return
    if not (a.url and a.token and a.params):
        ap.error("give URL, --token and --params")
    target = urlsplit(a.url)
    params = dict(
        line.split("=", 1) for line in Path(a.params).read_text().splitlines() if "=" in line
    )
    host, port = target.hostname, target.port or 80
    chosen = cursor_scenarios(a.url, a.token, params) if a.cursor else scenarios(params)
    for sid, name, query in chosen:
        path = LIST_PATH + query
        conn = http.client.HTTPConnection(host, port, timeout=60)
        status, ctype, body = get(conn, path, a.token)
        conn.close()
        if status != 200 or CONTENT_TYPES.get(sid, "application/json") not in ctype:
            sys.exit(f"{sid}: precheck failed: {status} {ctype} {body[:200]!r}")
        if a.wrk:
            if a.warmup:
                load_with_wrk(a.url + path, a.token, a.warmup, a.conns, a.wrk)
            r = load_with_wrk(a.url + path, a.token, a.duration, a.conns, a.wrk)
        else:
            if a.warmup:
                load(host, port, path, a.token, a.warmup, a.conns)
            r = load(host, port, path, a.token, a.duration, a.conns)
        driver = "wrk -t1" if a.wrk else "bench/load.py"
        r.update(scenario=sid, name=name, target=a.label, bytes=len(body), driver=driver)
        r.update(duration=a.duration, conns=a.conns)
        print(
            f"{sid} {a.label:10} {r['rps']:9.1f} req/s  p50 {r['p50_ms']:7.1f}  "
            f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']}",
            flush=True,
        )
        append(a.out, r)
        if r["errors"]:
            sys.exit(f"{sid}: {r['errors']} failed requests")
    if a.out:
        rates = [json.loads(x)["rps"] for x in Path(a.out).read_text().splitlines()]
        print(f"mean over scenarios: {statistics.mean(rates):.1f} req/s")


if __name__ == "__main__":
    main()
