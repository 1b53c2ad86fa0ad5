"""What the benchmarks share: a one-worker nginx on loopback answering 202 (the ceiling
hey is measured against), a free port, and waiting for a server to listen."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

NGINX = "/usr/sbin/nginx"

_NGINX_CONF = """\
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{port};
    location {location} {{
      default_type application/json;
      client_body_buffer_size 64k;
      return 202 '{answer}';
    }}
  }}
}}
"""


def nginx_conf(folder: Path, port: int, location: str, answer: str) -> Path:
    """Write the config of an nginx answering 202 `answer` on `location`; its path."""
    path = folder / "nginx.conf"
    path.write_text(_NGINX_CONF.format(dir=folder, port=port, location=location, answer=answer))
    return path


def start_nginx(folder: Path, port: int, location: str, answer: str) -> subprocess.Popen[bytes]:
    conf = nginx_conf(folder, port, location, answer)
    return subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(
    port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 15.0
) -> None:
    """Return once something listens on `port`; SystemExit if `proc` dies or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server on port {port} exited early ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {timeout:g} s")
