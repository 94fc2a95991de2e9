"""The ``ferbench`` command: one subcommand per module under ``ferbench.commands``.

Each command module defines ``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``.
Modules are imported only when their command runs, so ``ferbench --help`` stays fast and a command's
heavy dependencies (torch, onnxruntime) load only where they are used.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command -> module under ferbench.commands; listed here so readers (and --help) see them all
COMMANDS = {
    "predict": "predict",
    "import-checkpoint": "import_checkpoint",
    "export": "export",
    "verify": "verify",
    "pack": "pack",
    "merge": "merge",
}


def _module(command: str):
    return importlib.import_module(f"ferbench.commands.{COMMANDS[command]}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="ferbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name in COMMANDS:
        if name == chosen:
            mod = _module(name)
            mod.configure(sub.add_parser(name, help=mod.HELP, description=mod.HELP))
        else:
            sub.add_parser(name, help=f"see `ferbench {name} --help`", add_help=False)
    args = parser.parse_args(argv)
    return int(_module(args.command).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
