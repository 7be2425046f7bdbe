"""Running the emulator: uvicorn on a loopback socket, in a thread or in the foreground."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from llmbatch.emulator.app import EmulatorApp, quiet_drops
from llmbatch.emulator.backend import Backend
from llmbatch.emulator.config import EmulatorConfig

STARTUP_TIMEOUT = 10.0


class NotLoopbackError(ValueError):
    """The emulator only binds to a loopback address."""


def check_loopback(host: str) -> str:
    """`host` as an IPv4 loopback address; raises NotLoopbackError for anything else."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or address.version != 4 or not address.is_loopback:
        msg = (
            f"refusing to bind the emulator to {host!r}: it only listens on loopback.\n"
            "Hint: use --host 127.0.0.1 (the default)."
        )
        raise NotLoopbackError(msg)
    return host


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on loopback `host`:`port` (port 0 picks a free port)."""
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on such sockets, and without it
    # every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((check_loopback(host), port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def make_server(app: EmulatorApp) -> uvicorn.Server:
    """A quiet uvicorn server; h11 is pinned because the drop faults rely on its behaviour."""
    quiet_drops()
    config = uvicorn.Config(
        app,
        http="h11",
        ws="none",
        lifespan="off",
        loop="asyncio",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


class Emulator(Backend):
    """A running (or runnable) emulator: the Backend's control API plus a loopback server.

    Use `serve()` or `with Emulator(...) as emu:`; `emu.url`, `emu.openai_base_url` (ends in
    `/v1`, like OPENAI_BASE_URL) and `emu.anthropic_base_url` (no `/v1`, like
    ANTHROPIC_BASE_URL) point at it.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **knobs: Any,
    ) -> None:
        self.host = check_loopback(host)
        self.port = port
        super().__init__(config, **knobs)
        self.app = EmulatorApp(self)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` (the real port once started)."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The OpenAI SDK's `base_url`: `<url>/v1`."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic SDK's `base_url`: `<url>` (the SDK adds `/v1/...`)."""
        return self.url

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._thread is not None

    def start(self) -> Emulator:
        """Start serving on a background thread (no-op if already running)."""
        if self._thread is not None:
            return self
        self._socket = bind(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self._server = make_server(self.app)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"llmbatch-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._wait_started()
        return self

    def _wait_started(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not (self._server and self._server.started):
            if self._thread is None or not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the llmbatch emulator failed to start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop the server, wait for its thread, and remove stored files."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0, **knobs: Any
) -> Emulator:
    """Start an emulator on loopback in a background thread and return it.

    Use it as a context manager so that it stops cleanly:

        with llmbatch.emulator.serve(validating_seconds=1) as emu:
            client = openai.OpenAI(api_key="test", base_url=emu.openai_base_url)

    Args:
        config: a full EmulatorConfig; `knobs` (EmulatorConfig field names) override it.
        host: a loopback address (anything else raises NotLoopbackError).
        port: 0 picks a free port; read it back from `emu.port` / `emu.url`.
    """
    return Emulator(config, host=host, port=port, **knobs).start()
