"""The rules' conda environment (``--sdm conda``) mirrors the .venv that the Makefile builds.

Conda is not installable on the machines this suite runs on (not on PyPI), so the environment cannot
be created here; what can drift, the package list and the pins, is checked against the two files that
define the .venv: pyproject.toml and the Makefile.
"""

from __future__ import annotations

import re
import tomllib

import yaml

from workflow_helpers import REPO

ENV = REPO / "workflow" / "envs" / "ferbench.yaml"
POST_DEPLOY = REPO / "workflow" / "envs" / "ferbench.post-deploy.sh"
# the workflow's own runner and what pip brings with the listed packages anyway
NOT_IN_ENV = {"snakemake", "snakemake-executor-plugin-slurm", "numpy", "pillow"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0].lower()


def _makefile_pins() -> dict[str, str]:
    text = (REPO / "Makefile").read_text()
    return {m[1].lower(): m[2] for m in re.finditer(r"^\w+\s*:=\s*([\w-]+)==(\S+)$", text, re.M)}


def test_the_environment_lists_the_package_dependencies_and_the_makefile_pins():
    env = yaml.safe_load(ENV.read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {_name(r): r for r in project if _name(r) not in NOT_IN_ENV}
    listed = {_name(r): r for r in pip}
    pins = _makefile_pins()
    assert set(listed) == set(wanted) | {"torch", "torchvision"}, set(listed) ^ (set(wanted) | {"torch", "torchvision"})
    for name, requirement in wanted.items():
        assert listed[name].replace(" ", "") == requirement.replace(" ", ""), (name, listed[name], requirement)
    for name in ("torch", "torchvision"):
        assert listed[name] == f"{name}=={pins[name]}", (listed[name], pins[name])


def test_post_deploy_installs_facenet_without_its_pins_and_ferbench_itself():
    script = POST_DEPLOY.read_text()
    assert f"pip install --no-deps facenet-pytorch=={_makefile_pins()['facenet-pytorch']}" in script
    assert 'pip install --no-deps "$repo"' in script
