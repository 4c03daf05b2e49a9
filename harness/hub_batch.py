"""Several `python -m hub` commands in one process, in order, stopping at the first that
fails: `python -m harness.hub_batch COMMAND...`, each COMMAND a JSON list of arguments.

A compound's set-up (the demo, the end-to-end tests) runs four hub commands, and each new
process spends seconds importing the hub on a small machine; in one process it does so
once. Each command runs as `python -m hub` would run it.
"""

from __future__ import annotations

import json
import sys

from hub.__main__ import main as hub_main


def main(argv: list[str] | None = None) -> int:
    commands = sys.argv[1:] if argv is None else argv
    parsed = []
    for command in commands:
        arguments = _arguments(command)
        if arguments is None:
            print(f"hub_batch: not a JSON list of strings: {command}", file=sys.stderr)
            return 2
        parsed.append(arguments)
    for arguments in parsed:
        try:
            status = hub_main(arguments)
        except SystemExit as exit_:  # argparse refusing the arguments (or --help)
            status = exit_.code if isinstance(exit_.code, int) else 2
        if status:
            return status
    return 0


def _arguments(command: str) -> list[str] | None:
    try:
        arguments = json.loads(command)
    except ValueError:
        return None
    if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
        return None
    return arguments


if __name__ == "__main__":
    raise SystemExit(main())
