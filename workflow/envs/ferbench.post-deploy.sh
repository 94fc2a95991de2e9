#!/usr/bin/env bash
# Run by Snakemake inside the freshly created environment (see ferbench.yaml).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python -m pip install --no-deps facenet-pytorch==2.6.0
python -m pip install --no-deps "$repo"
