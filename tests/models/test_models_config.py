"""config/models.yaml agrees with the registry: entries, kwargs, objectives, pretrained keys, converters."""

from __future__ import annotations

import pytest
import yaml

from ferbench.config import pretrained_files
from ferbench.convert_weights import CONVERTERS
from ferbench.models import create_model, list_models


@pytest.fixture(scope="module")
def catalogue(repo):
    return yaml.safe_load((repo / "config" / "models.yaml").read_text())


def test_every_registered_model_has_an_entry(catalogue):
    assert set(catalogue["models"]) == set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_entry_kwargs_and_objective_are_accepted(catalogue, name):
    entry = catalogue["models"][name]
    model = create_model(name, 7, **entry["kwargs"])  # no pretrained: the kwargs alone must be accepted
    model.build_objective([5] * 7, **entry["objective"])
    for key in ("optimizer", "lr", "epochs", "batch_size"):
        assert key in entry["recipe"]
    # one table entry for every part the model declares, and nothing else
    assert set(pretrained_files(catalogue, name)) == set(model.pretrained_parts)


def test_pretrained_table_points_into_resources_with_known_converters(catalogue):
    for key, entry in catalogue["pretrained"].items():
        assert entry["file"].startswith("resources/pretrained/"), key
        assert entry["converter"] is None or entry["converter"] in CONVERTERS, key
        assert entry["source"]
