"""A throwaway PostgreSQL server for the test suite, started from Debian's binaries.

The server listens on 127.0.0.1 on a free port, keeps its data in a fresh temporary
directory, and is torn down (``pg_ctl stop -m immediate`` plus removal of the directory)
by :meth:`PostgresServer.stop`, by leaving the ``with`` block, or at interpreter exit.

PostgreSQL refuses to run as root. When this process is root, ``initdb``, ``pg_ctl`` and
the server run as the ``postgres`` system user (created by Debian's ``postgresql``
package) through ``runuser -u postgres --``, in a temporary directory owned by that user.

Usage::

    with start_postgres() as pg:
        url = pg.create_database("app_test")  # postgresql+psycopg://postgres@127.0.0.1:PORT/app_test
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

import psycopg
from psycopg import sql

__all__ = ["PostgresServer", "find_pg_bin", "start_postgres"]

NOT_FOUND_MESSAGE = (
    "PostgreSQL server binaries not found: "
    "install Debian's postgresql package (apt-get install -y postgresql)"
)

HOST = "127.0.0.1"
SUPERUSER = "postgres"
SYSTEM_USER = "postgres"
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")

_START_TIMEOUT_S = 60  # passed to ``pg_ctl -t``
_COMMAND_TIMEOUT_S = 120  # hard limit for any one subprocess
_START_ATTEMPTS = 3  # retries with a fresh port if another process grabbed ours
# Unix socket paths are limited to 107 bytes; leave room for "/.s.PGSQL.NNNNN(.lock)".
_MAX_SOCKET_DIR_LEN = 80
_LOG_TAIL_LINES = 40


def find_pg_bin() -> Path | None:
    """Return the directory holding ``initdb`` and ``pg_ctl``, or ``None`` if absent.

    Prefers the newest ``/usr/lib/postgresql/<version>/bin`` (Debian's layout, which is
    not on PATH), then falls back to the directory of ``pg_ctl`` found on PATH.
    """
    candidates: list[tuple[tuple[int, ...], Path]] = []
    if DEBIAN_PG_ROOT.is_dir():
        for version_dir in DEBIAN_PG_ROOT.iterdir():
            bin_dir = version_dir / "bin"
            if _has_server_tools(bin_dir):
                candidates.append((_version_key(version_dir.name), bin_dir))
    if candidates:
        return max(candidates)[1]

    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is not None:
        bin_dir = Path(pg_ctl).parent
        if _has_server_tools(bin_dir):
            return bin_dir
    return None


def start_postgres(base_dir: Path | None = None) -> PostgresServer:
    """Initialise and start a throwaway server; raises ``RuntimeError`` on any failure.

    ``base_dir`` is where the temporary directory is created (default: the system
    temporary directory).
    """
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise RuntimeError(NOT_FOUND_MESSAGE)
    server = PostgresServer(bin_dir, base_dir)
    try:
        server._start()
    except BaseException:
        server.stop()
        raise
    return server


class PostgresServer:
    """A running throwaway PostgreSQL server. Use :func:`start_postgres` to create one."""

    url: str
    host: str
    port: int
    bin_dir: Path
    root_dir: Path
    data_dir: Path
    socket_dir: Path
    log_file: Path

    def __init__(self, bin_dir: Path, base_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir
        self.host = HOST
        self.port = 0
        self.url = ""
        self._owner_pid = os.getpid()
        self._lock = threading.Lock()
        self._running = False
        self._stopped = False
        self._extra_dirs: list[Path] = []

        self._as_root = os.geteuid() == 0
        self._run_as: list[str] = []
        self._uid_gid: tuple[int, int] | None = None
        if self._as_root:
            self._run_as, self._uid_gid = _system_user_prefix()

        if base_dir is not None:
            base_dir.mkdir(parents=True, exist_ok=True)
        self.root_dir = Path(tempfile.mkdtemp(prefix="regentra-pg-", dir=base_dir)).resolve()
        self.data_dir = self.root_dir / "data"
        self.log_file = self.root_dir / "server.log"
        self.socket_dir = self.root_dir / "sock"
        # Registered as soon as there is something to clean up.
        atexit.register(self._atexit_stop)
        try:
            self.socket_dir.mkdir()
            if len(str(self.socket_dir)) > _MAX_SOCKET_DIR_LEN:
                self.socket_dir = Path(tempfile.mkdtemp(prefix="regentra-pgs-")).resolve()
                self._extra_dirs.append(self.socket_dir)
            if self._uid_gid is not None:
                for path in (self.root_dir, self.socket_dir):
                    self._hand_over(path)
        except BaseException:
            self.stop()
            raise

    # -- public API ----------------------------------------------------------------------

    def url_for(self, dbname: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) for database ``dbname`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string, for psycopg.connect()."""
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, user=SUPERUSER, dbname=dbname
        )

    def create_database(self, name: str) -> str:
        """``CREATE DATABASE name`` and return a SQLAlchemy URL for it."""
        if not self._running:
            raise RuntimeError("PostgreSQL server is not running")
        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def stop(self) -> None:
        """Stop the server immediately and remove its files. Safe to call more than once."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        atexit.unregister(self._atexit_stop)
        try:
            if self._running or (self.data_dir / "postmaster.pid").exists():
                self._pg_ctl_stop()
        finally:
            self._running = False
            for path in (self.root_dir, *self._extra_dirs):
                shutil.rmtree(path, ignore_errors=True)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the server log ("" if there is none yet)."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<PostgresServer {self.host}:{self.port} {state} {self.root_dir}>"

    # -- internals -----------------------------------------------------------------------

    def _start(self) -> None:
        self._initdb()
        last_error = ""
        for _ in range(_START_ATTEMPTS):
            port = _free_port()
            options = " ".join(
                [
                    f"-p {port}",
                    f"-c listen_addresses={HOST}",
                    f"-k {shlex.quote(str(self.socket_dir))}",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                ]
            )
            result = self._pg_ctl(
                "start", "-w", "-t", str(_START_TIMEOUT_S), "-l", str(self.log_file), "-o", options
            )
            if result.returncode == 0:
                self.port = port
                self.url = self.url_for("postgres")
                self._running = True
                return
            last_error = _describe(result)
            log = self.log_tail()
            if "could not bind" not in log and "already in use" not in log:
                break  # not a port race: retrying will not help
            # Make sure nothing half-started is left, then retry on another port.
            self._pg_ctl_stop()
        raise RuntimeError(
            "could not start PostgreSQL with pg_ctl\n"
            f"{last_error}\n--- tail of {self.log_file} ---\n{self.log_tail()}"
        )

    def _initdb(self) -> None:
        base = [str(self.bin_dir / "initdb"), "-D", str(self.data_dir)]
        base += ["-A", "trust", "-U", SUPERUSER, "--encoding=UTF8"]
        first = self._run([*base, "--locale=C.UTF-8"])
        if first.returncode == 0:
            return
        # Most likely the C.UTF-8 locale is missing: retry without locale support.
        shutil.rmtree(self.data_dir, ignore_errors=True)
        second = self._run([*base, "--no-locale"])
        if second.returncode == 0:
            return
        raise RuntimeError(
            "initdb failed\n"
            f"with --locale=C.UTF-8: {_describe(first)}\n"
            f"with --no-locale: {_describe(second)}"
        )

    def _pg_ctl(self, action: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run([str(self.bin_dir / "pg_ctl"), action, "-D", str(self.data_dir), *args])

    def _pg_ctl_stop(self) -> subprocess.CompletedProcess[str]:
        return self._pg_ctl("stop", "-m", "immediate", "-w", "-t", str(_START_TIMEOUT_S))

    def _run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run argv (as the postgres system user when root); never raises on exit status."""
        return subprocess.run(  # fixed argv, no shell (S603/S607 are off for tests/)
            [*self._run_as, *argv],
            cwd=self.root_dir,
            env=_clean_env(os.environ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_COMMAND_TIMEOUT_S,
            check=False,
        )

    def _hand_over(self, path: Path) -> None:
        """Give ``path`` to the system user and make sure that user can reach it."""
        assert self._uid_gid is not None
        uid, gid = self._uid_gid
        os.chown(path, uid, gid)
        path.chmod(0o700)
        _make_traversable(path.parent)

    def _atexit_stop(self) -> None:
        # A forked child (multiprocessing, xdist workers...) must not stop its parent's server.
        if os.getpid() == self._owner_pid:
            self.stop()


# -- helpers ------------------------------------------------------------------------------


def _has_server_tools(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / tool, os.X_OK) for tool in ("initdb", "pg_ctl"))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (-1,)


def _system_user_prefix() -> tuple[list[str], tuple[int, int]]:
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise RuntimeError(
            f"running as root but there is no {SYSTEM_USER!r} system user to run PostgreSQL "
            "as: install Debian's postgresql package (apt-get install -y postgresql)"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root but runuser (util-linux) is not installed")
    return [runuser, "-u", SYSTEM_USER, "--"], (entry.pw_uid, entry.pw_gid)


def _make_traversable(directory: Path) -> None:
    """Add o+x (search only, not read) to ``directory`` and its ancestors where missing."""
    for path in (directory, *directory.parents):
        mode = path.stat().st_mode
        if not mode & stat.S_IXOTH:
            path.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment minus libpq's PG* variables, which could redirect pg_ctl/initdb."""
    env = {k: v for k, v in environ.items() if not k.startswith("PG")}
    env["LC_MESSAGES"] = "C"  # keep messages searchable ("could not bind")
    return env


def _describe(result: subprocess.CompletedProcess[str]) -> str:
    cmd = shlex.join(str(arg) for arg in result.args)
    output = "\n".join(part.strip() for part in (result.stdout, result.stderr) if part.strip())
    return f"$ {cmd}\n(exit {result.returncode})\n{output}"
