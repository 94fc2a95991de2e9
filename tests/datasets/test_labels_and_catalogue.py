"""Label vocabularies, remaps, and the dataset catalogue in config/datasets.yaml."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from ferbench import labels
from ferbench.config import load_config
from ferbench.datasets import adapter_names, get_adapter

REPO = Path(__file__).resolve().parents[2]


def test_every_dataset_order_uses_canonical_names_once():
    for name, classes in labels.DATASET_CLASSES.items():
        assert len(set(classes)) == len(classes), name
        assert set(classes) <= set(labels.CANONICAL) | set(labels.VALENCE), name


def test_dataset_codes_follow_the_owners_documentation():
    assert labels.code_to_class("rafdb", 1, base=1) == "surprise" and labels.code_to_class("rafdb", 7, base=1) == "neutral"
    assert labels.code_to_class("rafdb", 0, base=1) is None and labels.code_to_class("rafdb", 8, base=1) is None
    assert labels.code_to_class("fer2013", 0) == "angry" and labels.code_to_class("fer2013", 6) == "neutral"
    assert labels.code_to_class("ckplus", 2) == "contempt" and labels.code_to_class("ckplus", 7) == "surprise"
    assert labels.code_to_class("affectnet8", 6) == "angry" and labels.code_to_class("affectnet8", 8) is None
    assert labels.code_to_class("fer2013", -1) is None


def test_spellings_map_to_canonical_names():
    assert [labels.canonical_name(s) for s in ("Anger", "sadness", "Happiness ", "Surprise", "bored")] == [
        "angry", "sad", "happy", "surprise", None]


def test_valence_remap_turns_seven_classes_into_three_for_any_dataset():
    names = list(labels.DATASET_CLASSES["fer2013"])
    assert labels.apply_remap(names, "valence") == [
        "negative", "negative", "negative", "positive", "negative", "positive", "neutral"]
    assert labels.apply_remap(["surprise", "happy"], "valence_no_surprise") == [None, "positive"]
    assert labels.apply_remap(["negative", "neutral"], "valence") == ["negative", "neutral"]


def test_remap_for_covers_exactly_the_given_classes_and_drops_unmentioned_ones():
    mapping = labels.remap_for("basic7", labels.DATASET_CLASSES["affectnet8"])
    assert mapping["contempt"] is None and mapping["angry"] == "angry"
    assert set(mapping) == set(labels.DATASET_CLASSES["affectnet8"])
    assert labels.remap_for("valence", ["bored"]) == {"bored": None}
    with pytest.raises(KeyError, match="unknown label remap 'nope'"):
        labels.remap_for("nope", ["happy"])


CATALOGUE = ["rafdb", "fer2013", "ferplus", "expw", "sfew", "ckplus", "affectnet7", "affectnet8", "lfw_fer", "mlfw_fer"]


def test_catalogue_names_every_dataset_with_a_known_adapter_and_where_to_get_it():
    entries = yaml.safe_load((REPO / "config" / "datasets.yaml").read_text())["datasets"]
    assert set(CATALOGUE) <= set(entries)
    for name in CATALOGUE:
        entry = entries[name]
        assert entry["format"] in adapter_names(), name
        assert entry["obtain"].strip() and "url" in entry and "sha256" in entry, name
        assert get_adapter(entry["format"]).expected_files(entry.get("options") or {}), name
    # datasets with subjects are split by subject
    assert entries["ckplus"]["protocol"] == "grouped"


def test_merged_config_with_the_catalogue_passes_the_workflow_schema():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    jsonschema.validate(load_config(REPO), schema)


def test_every_catalogued_format_is_documented_in_resources_readme():
    text = (REPO / "resources" / "README.md").read_text()
    entries = load_config(REPO)["datasets"]
    for name in CATALOGUE:
        folder = entries[name].get("raw", name)  # entries may share one distribution's folder
        assert f"resources/raw/{folder}/" in text, name
    for fmt in ("folder", "csv", "pattern"):
        assert f"format: {fmt}" in text, fmt


def test_every_exclusion_reason_is_explained_in_resources_readme():
    from ferbench import align, images
    from ferbench.datasets import common

    text = (REPO / "resources" / "README.md").read_text()
    reasons = {v for k, v in vars(common).items() if k.isupper() and isinstance(v, str)}
    reasons |= {images.MISSING_FILE, images.UNREADABLE, images.TRUNCATED, images.BLANK, images.BAD_PIXELS,
                images.TOO_MANY_PIXELS, align.NO_FACE, align.EMPTY_BOX}
    assert len(reasons) >= 26
    undocumented = sorted(r for r in reasons if f"| `{r}` |" not in text)
    assert undocumented == []
