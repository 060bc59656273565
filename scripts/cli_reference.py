"""Write docs/cli-reference.md from every command's --help; `--check` fails when the file is stale."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

from spam_classifier.cli import cli

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "cli-reference.md"


def render() -> str:
    runner = CliRunner()
    parts = ["# CLI reference\n\nGenerated from `--help` by `scripts/cli_reference.py`; do not edit by hand.\n"]
    paths: list[list[str]] = [[]]
    for name in sorted(cli.commands):
        paths.append([name])
        command = cli.commands[name]
        if isinstance(command, click.Group):  # a command group: each subcommand gets its own section
            paths.extend([name, sub] for sub in sorted(command.commands))
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"], prog_name="spam-classifier", terminal_width=100)
        title = " ".join(["spam-classifier", *path])
        parts.append(f"## {title}\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not REFERENCE.exists() or REFERENCE.read_text() != text:
            print(f"{REFERENCE} is stale: run python scripts/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    REFERENCE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
