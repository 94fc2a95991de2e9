"""Every snakemake command in the README's and docs' code blocks works as written (dry run).

Users copy these lines. The only accepted failure is a licensed dataset that is not placed here (the
message then names the missing files). `--configfile` and `--resources` take several values, so a
target written after them would be read as a config file or a resource: this test catches that.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

from workflow_helpers import REPO, workflow_copy

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LICENSED_DATA_MISSING = "original files not found"


def documented_commands() -> list[tuple[str, str]]:
    """(file, command) for each snakemake line of a fenced code block, shell variables of the block
    (``F=results/...``) substituted; lines with placeholders (``<uuid>``) are not runnable as written."""
    found = []
    for doc in DOCS:
        # fences alternate open/close; the odd chunks are the code blocks (any language tag)
        chunks = re.split(r"^```.*$", doc.read_text(), flags=re.M)
        for block in chunks[1::2]:
            env: dict[str, str] = {}
            for line in block.splitlines():
                line = line.split(" #", 1)[0].strip()
                if m := re.fullmatch(r"([A-Z_]+)=(\S+)", line):
                    env[m[1]] = m[2]
                    continue
                if re.match(r"^(\.venv/bin/)?snakemake\s", line) and "<" not in line:
                    for name, value in env.items():
                        line = line.replace(f"${name}", value)
                    found.append((doc.name, line))
    return found


COMMANDS = documented_commands()


def test_the_docs_have_snakemake_commands_to_check():
    files = {f for f, _ in COMMANDS}
    assert {"README.md", "cluster.md"} <= files, files
    assert len(COMMANDS) >= 8


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    wd = workflow_copy(tmp_path_factory.mktemp("documented"))
    # the SLURM profile reads a site file; a dry run needs nothing else from the cluster
    (wd / "site.yaml").write_text("account: docs-test\n")
    return wd


@pytest.mark.parametrize("doc, command", COMMANDS, ids=[c for _, c in COMMANDS])
def test_documented_command_dry_runs(workdir, doc, command):
    argv = shlex.split(command)
    argv = [sys.executable, "-m", "snakemake", *argv[1:]]
    if "-n" not in argv and "--dry-run" not in argv:
        argv.insert(3, "-n")
    env = {**os.environ, "FERBENCH_SLURM_SITE": str(workdir / "site.yaml")}
    res = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=120, env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 0 or LICENSED_DATA_MISSING in out, f"{doc}: {command}\n{out[-3000:]}"
    assert "Traceback" not in out, out[-3000:]
