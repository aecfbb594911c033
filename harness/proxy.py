"""Debian's nginx in front of a deployment's webservers, configured by deploy/nginx/ as
docs/deploying.md installs it, but on free loopback ports and with a test's own certificate
and password files: for the deployment test."""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.dagster_dev import free_port, stop
from harness.deployment import DEPLOY

CONFIG = DEPLOY / "nginx"


def nginx_binary() -> str | None:
    """Debian's nginx, which it installs in /usr/sbin (off PATH for most users), or None."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


@dataclass
class Proxy:
    plain_url: str  # plain HTTP, which only redirects
    url: str  # the whole UI, for the users in dagster.htpasswd
    viewer_url: str  # the read-only UI, for the users in dagster-viewers.htpasswd
    cafile: Path  # the certificate both HTTPS servers present


def password_line(user: str, password: str) -> str:
    """A line of an nginx password file, hashed as docs/deploying.md's command hashes it."""
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return f"{user}:{hashed}\n"


def _installed(config: Path, replacements: list[tuple[str, str]]) -> str:
    """`config` with the values a machine sets (ports, paths) replaced: each must be there, so
    that a change to the file cannot leave part of it untested."""
    text = config.read_text()
    for old, new in replacements:
        if old not in text:
            raise ValueError(f"{config.name} no longer contains {old!r}")
        text = text.replace(old, new)
    return text


def _wait_for_port(process: subprocess.Popen, port: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited early:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nginx is not listening on {port} after {timeout:.0f} s")


@contextmanager
def nginx_proxy(
    folder: Path,
    web_port: int,
    viewer_port: int,
    editors: Mapping[str, str],
    viewers: Mapping[str, str],
    timeout: float = 30,
) -> Iterator[Proxy]:
    """nginx, in its own process group, serving deploy/nginx/dagster.conf in front of the
    webserver on `web_port` and the read-only one on `viewer_port`; `editors` and `viewers` map
    user names to passwords. Always stopped at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        + ["-keyout", folder / "dagster.key", "-out", folder / "dagster.crt"],
        check=True,
        capture_output=True,
    )
    for name, users in (("dagster.htpasswd", editors), ("dagster-viewers.htpasswd", viewers)):
        (folder / name).write_text("".join(password_line(*user) for user in users.items()))
    shutil.copy(CONFIG / "dagster-proxy.conf", folder / "dagster-proxy.conf")
    plain, https, viewer_https = free_port(), free_port(), free_port()
    (folder / "dagster.conf").write_text(
        _installed(
            CONFIG / "dagster.conf",
            [
                # A test's nginx listens on IPv4's loopback only.
                ("    listen [::]:80;\n", ""),
                ("    listen [::]:443 ssl;\n", ""),
                ("    listen [::]:8443 ssl;\n", ""),
                ("listen 80;", f"listen 127.0.0.1:{plain};"),
                ("listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;"),
                ("listen 8443 ssl;", f"listen 127.0.0.1:{viewer_https} ssl;"),
                ("http://127.0.0.1:3000;", f"http://127.0.0.1:{web_port};"),
                ("http://127.0.0.1:3001;", f"http://127.0.0.1:{viewer_port};"),
                ("/etc/nginx/snippets/", f"{folder}/"),
                ("/etc/nginx/", f"{folder}/"),
            ],
        )
    )
    # What Debian's /etc/nginx/nginx.conf sets around its sites, with every file in `folder`.
    # Run as root, nginx's workers would run as `nobody`, who cannot read a test's files.
    (folder / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {folder}/nginx.pid;\n"
        + "events {}\n"
        + "http {\n"
        + f"    access_log {folder}/access.log;\n"
        + "".join(
            f"    {kind}_temp_path {folder}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {folder}/dagster.conf;\n"
        + "}\n"
    )
    log = folder / "error.log"
    process = subprocess.Popen(
        [nginx_binary(), "-p", folder, "-c", folder / "nginx.conf", "-e", log]
        + ["-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for port in (plain, https, viewer_https):
            _wait_for_port(process, port, log, timeout)
        yield Proxy(
            plain_url=f"http://127.0.0.1:{plain}",
            url=f"https://127.0.0.1:{https}",
            viewer_url=f"https://127.0.0.1:{viewer_https}",
            cafile=folder / "dagster.crt",
        )
    finally:
        stop(process)
