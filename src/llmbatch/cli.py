"""`llmbatch …`: status / wait / collect / cancel / cleanup / retry / list / emulator.

Only translates arguments into calls on `BatchHandle`; holds no logic of its own.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from llmbatch import frames
from llmbatch._exceptions import InputError, LLMBatchError
from llmbatch.catalog import jobs, load
from llmbatch.results import ERROR_KINDS, RETRY_KINDS
from llmbatch.store import default_home

__all__ = ["main"]


_FORMATS = (".parquet", ".csv")


def _check_output(output: str | None) -> None:
    """Refuse a bad -o before waiting for hours, not after."""
    if output is None:
        return
    path = Path(output)
    if path.suffix.lower() not in _FORMATS:
        msg = f"cannot write {output!r}: the output must end in .parquet or .csv"
        raise InputError(msg + "\nHint: e.g. -o answers.parquet.")
    if not path.parent.is_dir():
        msg = f"cannot write {output!r}: folder {str(path.parent)!r} does not exist"
        raise InputError(msg + "\nHint: create it first.")


def _seconds(text: str) -> float:
    """An argparse type: a finite number of seconds >= 0 (a bad value is a usage error, exit 2)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _one_line(exc: BaseException) -> str:
    """An error as the CLI shows it: its first line, then its hint line (never a traceback)."""
    lines = [line for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    hints = [line for line in lines[1:] if line.startswith("Hint:")]
    return "\n".join([f"error: {lines[0]}", *hints[-1:]])


def _write(frame: Any, output: str | None) -> None:
    if output is None:
        print(frame)
        return
    path = Path(output)
    print(f"wrote {frames.write_file(frame, path):,} rows to {path}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llmbatch", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list the jobs in a folder")
    ls.add_argument("--folder", default=None, help="default: $LLMBATCH_HOME or ./.llmbatch")
    for name, text in (
        ("status", "show a job's status"),
        ("cancel", "cancel a job"),
        ("cleanup", "delete a job's remote files / batches"),
        ("refresh", "download a job's results again (checked before they replace the old)"),
    ):
        sub.add_parser(name, help=text).add_argument("path")
    for name, text in (
        ("wait", "wait for a job, then write the frame"),
        ("collect", "write the frame"),
    ):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("path")
        sp.add_argument("--output", "-o", default=None, help=".parquet or .csv (default: print)")
        sp.add_argument(
            "--cleanup",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="then delete the provider's copies (default: the provider's cleanup setting)",
        )
        if name == "wait":
            sp.add_argument("--poll-interval", type=_seconds, default=30.0)
            sp.add_argument("--timeout", type=_seconds, default=None)
        else:
            sp.add_argument("--partial", action="store_true")
    rt = sub.add_parser("retry", help="resubmit the failed rows of an ended job")
    rt.add_argument("path")
    rt.add_argument(
        "--kinds",
        nargs="+",
        default=list(RETRY_KINDS),
        choices=ERROR_KINDS,
    )
    sub.add_parser("emulator", help="run the built-in emulator (see --help)", add_help=False)
    return p


def _run(args: argparse.Namespace) -> int:
    if args.command == "list":
        found = jobs(args.folder)
        for handle in found:
            state = handle.status(refresh=False).state  # last known: no network call
            kind, provider = handle.spec.kind, handle.provider.name
            print(f"{handle.path}\t{kind}\t{provider}\t{handle.n_rows:,} rows\t{state}")
        if not found:
            print(f"no jobs under {args.folder or default_home()}", file=sys.stderr)
        return 0
    _check_output(getattr(args, "output", None))
    handle = load(args.path)
    if args.command == "status":
        print(handle.status())
    elif args.command == "cancel":
        print(handle.cancel())
    elif args.command == "cleanup":
        print("\n".join(handle.cleanup()) or "nothing to delete")
    elif args.command == "refresh":
        print(handle.refresh_results().status(refresh=False))
    elif args.command == "wait":
        waited = handle.wait(
            poll_interval=args.poll_interval, timeout=args.timeout, cleanup=args.cleanup
        )
        _write(waited, args.output)
    elif args.command == "collect" and str(args.output or "").lower().endswith(".parquet"):
        # to=: written in bounded memory
        path = handle.collect(partial=args.partial, to=args.output, cleanup=args.cleanup)
        print(f"wrote {handle.n_rows:,} rows to {path}")
    elif args.command == "collect":
        _write(handle.collect(partial=args.partial, cleanup=args.cleanup), args.output)
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
        print(_one_line(exc), file=sys.stderr)
        return 1
    except OSError as exc:  # writing the output file
        print(f"error: {exc}\nHint: check the output path and the free space.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        msg = "interrupted; the job is intact — run the same command again to go on"
        print(msg, file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
