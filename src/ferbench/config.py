"""Reading the merged workflow config: dataset entries, recipes, pretrained files.

The Snakefile and the tests both go through these functions, so the rules stay thin.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

CONFIG_FILES = ("config/datasets.yaml", "config/models.yaml", "config/config.yaml")


def deep_merge(base: dict, override: Mapping) -> dict:
    """Mappings merge key by key; everything else (lists included) is replaced — Snakemake's rule."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def load_config(root: str | Path = ".", extra: Sequence[str | Path] = ()) -> dict:
    """The config as the Snakefile sees it: the three default files, then ``extra`` (``--configfile``)."""
    cfg: dict = {}
    for f in [Path(root) / c for c in CONFIG_FILES] + [Path(e) for e in extra]:
        cfg = deep_merge(cfg, yaml.safe_load(Path(f).read_text()) or {})
    return cfg


def split_variant(dataset: str) -> tuple[str, str | None]:
    """``rafdb@lower_face`` -> (``rafdb``, ``lower_face``)."""
    base, _, variant = dataset.partition("@")
    return base, variant or None


def dataset_entry(cfg: Mapping, dataset: str) -> dict:
    base, _ = split_variant(dataset)
    try:
        return dict(cfg["datasets"][base])
    except KeyError:
        known = ", ".join(sorted(cfg.get("datasets", {})))
        raise KeyError(f"dataset {base!r} is not defined under `datasets:` in the config (defined: {known})") from None


def protocol(cfg: Mapping, dataset: str) -> str:
    return dataset_entry(cfg, dataset).get("protocol") or cfg["benchmark"].get("protocol", "crossval")


def model_entry(cfg: Mapping, model: str) -> dict:
    try:
        return dict(cfg["models"][model])
    except KeyError:
        known = ", ".join(sorted(cfg.get("models", {})))
        raise KeyError(f"model {model!r} is not defined under `models:` in the config (defined: {known})") from None


def recipe(cfg: Mapping, model: str) -> dict:
    """The model's official recipe or a named one (``benchmark.recipe``), then ``train.overrides``."""
    r = copy.deepcopy(model_entry(cfg, model).get("recipe") or {})
    name = cfg["benchmark"].get("recipe", "official")
    if name != "official":
        # A named recipe (e.g. FER-crossval's generic one) replaces optimisation and schedule
        # entirely; only the model's own augmentation is kept unless the recipe gives one.
        try:
            r = deep_merge({"augment": r.get("augment", {})}, cfg["recipes"][name])
        except KeyError:
            raise KeyError(f"benchmark.recipe {name!r} is not under `recipes:` (defined: {sorted(cfg.get('recipes', {}))})") from None
    r = deep_merge(r, cfg.get("train", {}).get("overrides") or {})
    missing = [k for k in ("optimizer", "lr", "epochs", "batch_size") if k not in r]
    if missing:
        raise KeyError(f"recipe of model {model!r} lacks {missing}")
    return r


def pretrained_file(cfg: Mapping, model: str) -> tuple[Path | None, dict | None]:
    """The weights file a model starts from, and its table entry; (None, None) for ``none``."""
    key = model_entry(cfg, model).get("pretrained", "none")
    if key in (None, "none"):
        return None, None
    try:
        entry = cfg["pretrained"][key]
    except KeyError:
        raise KeyError(f"model {model!r}: pretrained {key!r} is not in the `pretrained:` table") from None
    return Path(entry["file"]), dict(entry)
