"""Entry keys and adapter options are checked at parse time: a typo is an error naming the key and the
keys allowed there, never a silently ignored setting."""

from __future__ import annotations

import pytest
import yaml

from ferbench.config import load_config
from ferbench.config_check import ConfigError, check_config, config_problems
from workflow_helpers import REPO, snakemake, workflow_copy, write_config

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.mark.parametrize("extra", [[], ["config/demo.yaml"], ["config/zoo.yaml"]])
def test_the_shipped_configs_follow_the_closed_schema(extra):
    check_config(load_config(REPO, [REPO / e for e in extra]), SCHEMA)


def test_misspelled_keys_are_named_with_the_allowed_ones_at_every_level():
    cfg = load_config(REPO, [REPO / "config" / "demo.yaml"])
    cfg["models"]["resnet18"]["pretrainde"] = "none"
    cfg["datasets"]["demo"]["optoins"] = {"classes": ["happy"]}
    cfg["datasets"]["demo"]["synthesize"]["n_per_clas"] = 3
    cfg["pretrained"]["resnet18_msceleb"]["sha265"] = None
    cfg["models"]["poster"]["recipe"]["sam"]["adaptiv"] = True
    with pytest.raises(ConfigError) as err:
        check_config(cfg, SCHEMA)
    msg = str(err.value)
    assert ("['models']['resnet18']: unknown key 'pretrainde' (did you mean 'pretrained'?); "
            "allowed keys here: kwargs, objective, pretrained, recipe, resources") in msg
    assert "['datasets']['demo']: unknown key 'optoins' (did you mean 'options'?)" in msg
    assert "['datasets']['demo']['synthesize']: unknown key 'n_per_clas'" in msg
    assert "['pretrained']['resnet18_msceleb']: unknown key 'sha265' (did you mean 'sha256'?)" in msg
    # inside a oneOf (null or a mapping) the mapping's problem is reported, not "is not of type 'null'"
    assert "['models']['poster']['recipe']['sam']: unknown key 'adaptiv'" in msg and "'null'" not in msg


def test_a_wrong_value_keeps_its_place_and_the_allowed_values():
    problems = config_problems({"align": {"no_face": "skip"}}, yaml.safe_load(SCHEMA.read_text()))
    assert "['align']['no_face']: 'skip' is not one of ['center', 'exclude']" in problems


def test_snakemake_stops_at_parse_time_on_a_misspelled_entry_key(tmp_path):
    wd = workflow_copy(tmp_path)
    bad = write_config(wd, "bad.yaml", {"models": {"resnet18": {"pretrainde": "none"}},
                                        "datasets": {"demo": {"optoins": {}}}})
    res = snakemake(wd, "-n", "--configfile", "config/demo.yaml", str(bad))
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "Traceback" not in out, out[-3000:]
    assert "unknown key 'pretrainde' (did you mean 'pretrained'?)" in out
    assert "unknown key 'optoins' (did you mean 'options'?)" in out


def test_snakemake_stops_at_parse_time_on_an_unknown_adapter_option(tmp_path):
    wd = workflow_copy(tmp_path)
    bad = write_config(wd, "bad.yaml", {"datasets": {"demo": {"options": {"clases": ["happy"]}}}})
    res = snakemake(wd, "-n", "--configfile", "config/demo.yaml", str(bad))
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "Traceback" not in out, out[-3000:]
    assert ("dataset 'demo' (format 'folder'): unknown option(s) 'clases' "
            "(did you mean 'clases' -> 'classes'?)") in out
    assert "allowed: aligned, canonical, classes, splits, subject_regex" in out
