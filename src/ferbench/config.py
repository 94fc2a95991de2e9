"""Reading the merged workflow config: dataset entries, recipes, pretrained files.

The Snakefile and the tests both go through these functions, so the rules stay thin.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class WeightFile:
    """A pretrained weight file as the config's ``pretrained:`` table describes it: the one place that says
    where a file lives, where it comes from and its checksum (``null`` where none is published)."""

    file: Path
    source: str = "the table in resources/pretrained/README.md"
    sha256: str | None = None
    converter: str | None = None  # the `python -m ferbench.convert_weights --model` step it needs, if any
    key: str | None = None  # its name in the table

    def __str__(self) -> str:
        return str(self.file)

    def missing_message(self, model: str, part: str) -> str:
        convert = (f", then convert it once with `python -m ferbench.convert_weights --model "
                   f"{self.converter} <downloaded file> {self.file}`" if self.converter else "")
        return (f"model {model!r} starts from pretrained weights {self.file} (its {part}), which is missing. "
                f"Get it from {self.source}{convert} (see resources/pretrained/README.md). "
                f"Or set `models: {{{model}: {{pretrained: none}}}}` in the config to train from scratch.")


def pretrained_files(cfg: Mapping, model: str) -> dict[str, WeightFile]:
    """The weight files a model starts from, by the part of the model each fills; {} for ``none``.

    The model entry's ``pretrained`` is ``none``, a key of the ``pretrained:`` table (the model's
    ``backbone``), or a mapping ``{part: key}`` for models that load several files (POSTER: ``backbone`` and
    ``landmarks``).
    """
    spec = model_entry(cfg, model).get("pretrained", "none")
    if spec in (None, "none"):
        return {}
    table = cfg.get("pretrained") or {}
    out = {}
    for part, key in ({"backbone": spec} if isinstance(spec, str) else spec).items():
        if key not in table:
            raise KeyError(f"model {model!r}: pretrained {key!r} (its {part}) is not in the `pretrained:` "
                           f"table (defined: {', '.join(sorted(table))})")
        entry = table[key]
        out[part] = WeightFile(Path(entry["file"]), entry.get("source") or WeightFile.source,
                               entry.get("sha256"), entry.get("converter"), key)
    return out
