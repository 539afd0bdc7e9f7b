"""Production serving: nginx in front of gunicorn, and the export job runner, as one
process (``python -m config.serve``, what ``make serve`` and the image run).

nginx listens on ``SERVE_BIND`` (127.0.0.1:8000) with config/nginx.conf; gunicorn
(config/gunicorn.py) on a loopback port of its own behind it; ``manage.py
run_export_jobs`` beside them. A stop signal stops all three; if one exits, the others
are stopped too and the exit status is the first one's.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = Path(__file__).with_name("nginx.conf")
TEMP_FOLDERS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
# The bodies of the errors nginx answers itself (config/nginx.conf's error_page).
ERRORS = {
    "400": "Bad request.",
    "408": "The request was not sent in time.",
    "413": "The request body is too large.",
    "414": "The request line or its headers are too long.",
    "503": "The service is unavailable; retry shortly.",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_binary() -> str:
    found = os.environ.get("NGINX_BIN") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        sys.exit("nginx is not installed (Debian: apt-get install nginx-core): docs/operations.md")
    return found


def nginx_config(runtime: Path, listen: str, upstream: str) -> Path:
    """config/nginx.conf with this run's addresses and folders."""
    # Started as root (a container's default), nginx's workers drop to nobody: their
    # temporary folders must be theirs to write.
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    for name in TEMP_FOLDERS:
        (runtime / name).mkdir(mode=0o777 if user else 0o700)
        if user:
            (runtime / name).chmod(0o777)
    errors = runtime / "errors"
    errors.mkdir(mode=0o755)
    for status, detail in ERRORS.items():
        (errors / f"{status}.json").write_text(json.dumps({"detail": detail}) + "\n")
        (errors / f"{status}.json").chmod(0o644)
    text = CONFIG.read_text()
    for marker, value in {
        "@@RUNTIME@@": str(runtime),
        "@@LISTEN@@": listen,
        "@@UPSTREAM@@": upstream,
        "@@USER@@": user,
    }.items():
        text = text.replace(marker, value)
    path = runtime / "nginx.conf"
    path.write_text(text)
    return path


def main() -> int:
    listen = os.environ.get("SERVE_BIND", "127.0.0.1:8000")
    upstream = f"127.0.0.1:{free_port()}"
    # As root nginx's workers are nobody, who must reach the folder: not under a private
    # TMPDIR then.
    runtime = Path(tempfile.mkdtemp(prefix="oms-serve-", dir="/tmp" if os.geteuid() == 0 else None))
    runtime.chmod(0o755)
    config = nginx_config(runtime, listen, upstream)
    # nginx appends the client's address to X-Forwarded-For: one proxy more to trust.
    env = {
        **os.environ,
        "GUNICORN_BIND": upstream,
        "NUM_PROXIES": os.environ.get("NUM_PROXIES", "1"),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    manage = Path(__file__).resolve().parent.parent / "manage.py"
    if not manage.exists():  # installed as a package (the image): manage.py in the folder
        manage = Path("manage.py")
    processes = [
        subprocess.Popen([str(gunicorn), "-c", "python:config.gunicorn", "config.wsgi"], env=env),
        subprocess.Popen([sys.executable, str(manage), "run_export_jobs"], env=env),
        subprocess.Popen(
            [
                nginx_binary(),
                "-c",
                str(config),
                "-p",
                str(runtime),
                "-e",
                "stderr",
                "-g",
                "daemon off;",
            ]
        ),
    ]

    def stop(signum: int, frame: object) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # each shuts down gracefully on TERM

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.2)
        status = next(process.returncode for process in processes if process.poll() is not None)
        stop(signal.SIGTERM, None)
        for process in processes:
            process.wait(timeout=40)
        return status
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
