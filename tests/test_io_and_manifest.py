"""Atomic writes follow the umask; the manifest is sha256sum's format; the results layout is one place."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from ferbench import layout
from ferbench.io import current_umask, write_json, write_text
from ferbench.manifest import read_manifest, write_manifest, write_results_provenance


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mode):
    # a subprocess: the umask is per process, and the test must not change pytest's own
    code = (
        "import os, sys; os.umask(int(sys.argv[2], 8));"
        "from ferbench.io import write_text, write_with, current_umask;"
        "import torch, numpy as np;"
        "assert current_umask() == int(sys.argv[2], 8);"
        "write_text(sys.argv[1] + '/a.txt', 'x');"
        "write_with(sys.argv[1] + '/b.pt', lambda p: torch.save({'w': torch.ones(1)}, p));"
        "write_with(sys.argv[1] + '/sub/c.npy', lambda p: np.save(open(p, 'wb'), np.ones(2)))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path), oct(umask)[2:]], check=True)
    for name in ("a.txt", "b.pt", "sub/c.npy"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name
    assert not list(tmp_path.rglob(".*.tmp"))


def test_current_umask_does_not_change_it():
    before = os.umask(0o027)
    try:
        assert current_umask() == 0o027 and current_umask() == 0o027
    finally:
        os.umask(before)


def test_manifest_is_sha256sum_format_and_sha256sum_checks_it(tmp_path):
    root = tmp_path / "results"
    write_text(root / "tables/summary.csv", "a,b\n")
    write_json(root / "runs/m/d/0/metrics.json", {"x": 1})
    files = [root / "runs/m/d/0/metrics.json", root / "tables/summary.csv"]
    digests = write_manifest(files, root, root / "MANIFEST.sha256")
    assert read_manifest(root / "MANIFEST.sha256") == digests
    assert digests["tables/summary.csv"] == hashlib.sha256(b"a,b\n").hexdigest()
    lines = (root / "MANIFEST.sha256").read_text().splitlines()
    assert lines == sorted(lines, key=lambda l: l.split("  ")[1]) and len(lines) == 2
    if shutil.which("sha256sum"):
        ok = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=root, capture_output=True, text=True)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        write_text(root / "tables/summary.csv", "a,c\n")
        bad = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=root, capture_output=True, text=True)
        assert bad.returncode != 0 and "summary.csv: FAILED" in bad.stdout


def test_manifest_refuses_files_outside_the_results_folder(tmp_path):
    write_text(tmp_path / "outside.txt", "x")
    with pytest.raises(ValueError, match="not inside the results folder"):
        write_manifest([tmp_path / "outside.txt"], tmp_path / "results", tmp_path / "results/M")


def test_a_malformed_manifest_line_is_named(tmp_path):
    (tmp_path / "M").write_text("abc  file\n")
    with pytest.raises(ValueError, match="M:1: not a sha256sum line"):
        read_manifest(tmp_path / "M")


def test_results_provenance_counts_code_versions(tmp_path):
    a = write_json(tmp_path / "a.json", {"code": {"ferbench": "0.1.0", "git": {"commit": "abc", "dirty": False}}})
    b = write_json(tmp_path / "b.json", {"code": {"ferbench": "0.1.0", "git": {"commit": "abc", "dirty": True}}})
    doc = write_results_provenance({"models": ["m"]}, {"benchmark": {}}, [a, b, a, tmp_path / "gone.json"],
                                   tmp_path / "provenance.json")
    assert doc["code_versions"] == {"ferbench 0.1.0 @ abc": 2, "ferbench 0.1.0 @ abc+dirty": 1, "unknown (no provenance.json)": 1}
    assert json.loads((tmp_path / "provenance.json").read_text())["grid"] == {"models": ["m"]}


def test_root_of_finds_the_results_folder_of_an_output():
    assert layout.root_of("results/best/m/d/card.json", layout.BEST_CARD, model="m", dataset="d") == "results"
    assert layout.root_of("x/y/results/MANIFEST.sha256", layout.MANIFEST) == "x/y/results"
    with pytest.raises(ValueError, match="is not best/m/d/card.json"):
        layout.root_of("results/best/m/other/card.json", layout.BEST_CARD, model="m", dataset="d")
