"""`python -m llmbatch.emulator` / `llmbatch emulator`: run the emulator in the foreground."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import orjson

from llmbatch.emulator.backend import Backend
from llmbatch.emulator.config import ConfigError, EmulatorConfig, FaultRule

# The HTTP server is the `emulator` extra; its modules are imported only to serve.
EXTRA = "starlette, uvicorn and python-multipart"
_SERVER_MODULES = (("starlette",), ("uvicorn",), ("python_multipart", "multipart"))

_FLOAT_KNOBS = (
    "validating_seconds",
    "finalizing_seconds",
    "requests_per_second",
    "cancel_seconds",
    "completion_window_seconds",
    "request_error_rate",
)
_INT_KNOBS = (
    "seed",
    "enqueued_token_limit",
    "openai_max_requests",
    "openai_max_bytes",
    "openai_max_embedding_inputs",
    "anthropic_max_requests",
    "anthropic_max_bytes",
    "anthropic_not_found_reads",
    "realtime_rpm",
)
_BOOL_KNOBS = ("openai_empty_file_ids", "openai_expired_error_lines")


def require_server() -> None:
    """Refuse to serve, naming the extra, when the server packages are not installed.

    Raises:
        ImportError: starlette, uvicorn or python-multipart cannot be imported.
    """
    for names in _SERVER_MODULES:
        failure: ImportError | None = None
        for name in names:
            try:
                importlib.import_module(name)
            except ImportError as exc:
                failure = failure or exc
            else:
                failure = None
                break
        if failure is not None:
            msg = (
                f"the llmbatch emulator needs {EXTRA}, which are not all installed "
                f"({failure})\nHint: pip install 'llmbatch[emulator]'."
            )
            raise ImportError(msg, name=names[0]) from failure


def _port(text: str) -> int:
    """A TCP port number (0 = any free port), refused by argparse otherwise (exit code 2)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use 0-65535 (0 = any free)")
    return port


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one flag per EmulatorConfig knob)."""
    parser = argparse.ArgumentParser(
        prog="llmbatch emulator",
        description="Serve fake OpenAI Files+Batches and Anthropic Message Batches APIs "
        "on loopback, for offline use and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8787, help="port (default 8787; 0 = any)")
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    for name in _FLOAT_KNOBS:
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=None)
    for name in _INT_KNOBS:
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    for name in _BOOL_KNOBS:
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--request-error-type", default=None)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='a fault rule, e.g. \'{"kind": "429", "route": "POST /v1/batches", "calls": [1]}\'',
    )
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The EmulatorConfig that the parsed flags describe."""
    knobs: dict[str, Any] = {
        name: getattr(args, name)
        for name in (*_FLOAT_KNOBS, *_INT_KNOBS, *_BOOL_KNOBS, "api_key", "request_error_type")
        if getattr(args, name) is not None
    }
    faults = [FaultRule.from_value(orjson.loads(text)) for text in args.fault]
    return EmulatorConfig(faults=tuple(faults), **knobs)


def banner(url: str, api_key: str | None) -> str:
    """What the foreground server prints: base URLs and the variables to export."""
    key = api_key or "emulator"
    return "\n".join(
        [
            f"llmbatch emulator listening on {url}",
            f"  OpenAI base URL:    {url}/v1",
            f"  Anthropic base URL: {url}",
            "Point the SDKs (and llmbatch) at it with:",
            f"  export OPENAI_BASE_URL={url}/v1",
            f"  export OPENAI_API_KEY={key}",
            f"  export ANTHROPIC_BASE_URL={url}",
            f"  export ANTHROPIC_API_KEY={key}",
            "Control plane: POST /_emulator/reset, GET|POST /_emulator/config, "
            "GET /_emulator/state. Press Ctrl+C to stop.",
        ]
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the emulator in the foreground until interrupted; returns the exit code."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    try:
        require_server()
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from llmbatch.emulator.app import EmulatorApp
    from llmbatch.emulator.server import NotLoopbackError, bind, make_server

    try:
        config = config_from_args(args)
        sock = bind(args.host, args.port)
    except (ConfigError, NotLoopbackError, TypeError, ValueError) as exc:  # JSON errors too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    backend = Backend(config)
    host, port = sock.getsockname()[:2]
    # uvicorn re-raises SIGTERM after shutting down; make it a KeyboardInterrupt so that the
    # `finally` below still removes the stored files (they can be gigabytes after a big run).
    # Installed before the banner: a caller may send SIGTERM as soon as it reads the banner.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(banner(f"http://{host}:{port}", config.api_key), file=out, flush=True)
        make_server(EmulatorApp(backend)).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        backend.close()
    return 0
