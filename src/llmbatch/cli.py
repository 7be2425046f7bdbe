"""`llmbatch …`: status / wait / collect / cancel / cleanup / retry / list / emulator.

Only translates arguments into calls on `BatchHandle`; holds no logic of its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from llmbatch._exceptions import LLMBatchError
from llmbatch.catalog import jobs, load
from llmbatch.results import ERROR_KINDS

__all__ = ["main"]


def _write(frame: Any, output: str | None) -> None:
    if output is None:
        print(frame)
        return
    path = Path(output)
    if hasattr(frame, "write_parquet"):
        frame.write_parquet(path) if path.suffix == ".parquet" else frame.write_csv(path)
    else:
        frame.to_parquet(path) if path.suffix == ".parquet" else frame.to_csv(path)
    print(f"wrote {len(frame):,} rows to {path}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llmbatch", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list the jobs in a folder")
    ls.add_argument("--folder", default=None, help="default: $LLMBATCH_HOME or ./.llmbatch")
    for name, text in (
        ("status", "show a job's status"),
        ("cancel", "cancel a job"),
        ("cleanup", "delete a job's remote files / batches"),
    ):
        sub.add_parser(name, help=text).add_argument("path")
    for name, text in (
        ("wait", "wait for a job, then write the frame"),
        ("collect", "write the frame"),
    ):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("path")
        sp.add_argument("--output", "-o", default=None, help=".parquet or .csv (default: print)")
        if name == "wait":
            sp.add_argument("--poll-interval", type=float, default=30.0)
            sp.add_argument("--timeout", type=float, default=None)
        else:
            sp.add_argument("--partial", action="store_true")
    rt = sub.add_parser("retry", help="resubmit the failed rows of an ended job")
    rt.add_argument("path")
    rt.add_argument(
        "--kinds",
        nargs="+",
        default=["errored", "expired", "canceled", "invalid_output"],
        choices=ERROR_KINDS,
    )
    sub.add_parser("emulator", help="run the built-in emulator (see --help)", add_help=False)
    return p


def _run(args: argparse.Namespace) -> int:
    if args.command == "list":
        for handle in jobs(args.folder):
            print(
                f"{handle.path}\t{handle.spec.kind}\t{handle.provider.name}\t{handle.n_rows:,} rows"
            )
        return 0
    handle = load(args.path)
    if args.command == "status":
        print(handle.status())
    elif args.command == "cancel":
        print(handle.cancel())
    elif args.command == "cleanup":
        print("\n".join(handle.cleanup()) or "nothing to delete")
    elif args.command == "wait":
        _write(handle.wait(poll_interval=args.poll_interval, timeout=args.timeout), args.output)
    elif args.command == "collect":
        _write(handle.collect(partial=args.partial), args.output)
    elif args.command == "retry":
        print(handle.retry_failed(kinds=tuple(args.kinds)).status(refresh=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `llmbatch` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "emulator":
        from llmbatch.emulator import main as emulator_main

        return emulator_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except LLMBatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "interrupted; the job is intact — run the same command again to go on", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
