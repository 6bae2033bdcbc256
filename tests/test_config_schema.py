"""One source of truth per setting: config.yaml holds every default, the schema every key's
type and range, docs/configuration.md every key's meaning; TrainSettings and the training
rules' params share sedcycle.settings' key lists. ``config_problems`` checks the three files
against each other; the planted tests show it fails on each kind of disagreement."""

import copy
import dataclasses
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from sedcycle import settings
from sedcycle.settings import TrainSettings, data_source

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config.yaml"
SCHEMA = REPO / "schemas" / "config.schema.yaml"
DOCS = REPO / "docs" / "configuration.md"
# TrainSettings fields that are no config key: set by the rule, or not by the workflow at all
RULE_FIELDS = {"n_species", "window", "loss"}
# TrainSettings fields the rule sets only with a switch on: windows.cover with stage1.crops grid
# or with relabel.pseudo_targets windows in a round with pseudo-labels
SWITCHED_RULE_FIELDS = {"cover"}
# TrainSettings fields in params with relabel.unknown_weight "auto" alone
AUTO_FIELDS = set(settings.AUTO_KEYS)
NOT_CONFIG = {"samples_per_epoch", "resume"}


def load(path):
    return yaml.safe_load(path.read_text())


def target(schema, ref):
    """The schema node a local ``$ref`` ("#/$defs/...") points at."""
    assert ref.startswith("#/"), ref
    node = schema
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def properties(node, schema):
    """A schema node's properties, with those of the node its ``$ref`` points at."""
    found = dict(properties(target(schema, node["$ref"]), schema)) if "$ref" in node else {}
    found.update(node.get("properties", {}))
    return found


def schema_keys(node, schema, prefix=""):
    """Dotted paths of the schema's settings (an override map such as relabel.rounds, whose
    entries are additionalProperties, is one setting)."""
    for name, sub in properties(node, schema).items():
        if properties(sub, schema):
            yield from schema_keys(sub, schema, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def config_keys(config, node, schema, prefix=""):
    """Dotted paths of a config's settings, descending where the schema has properties."""
    known = properties(node, schema)
    for name, value in config.items():
        sub = known.get(name)
        if isinstance(value, dict) and sub is not None and properties(sub, schema):
            yield from config_keys(value, sub, schema, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def open_objects(node, schema, where="schema"):
    """Schema objects (outside $defs) that let unknown keys through."""
    if isinstance(node, dict):
        if ("properties" in node or "$ref" in node) and properties(node, schema):
            closed = node.get("additionalProperties") is False
            if not (closed or node.get("unevaluatedProperties") is False):
                yield where
        for key, sub in node.items():
            if key != "$defs":
                yield from open_objects(sub, schema, f"{where}/{key}")


def defaults_in(node, where="schema"):
    """Schema nodes with a ``default``: config.yaml is the only place for defaults."""
    if isinstance(node, dict):
        if "default" in node:
            yield where
        for key, sub in node.items():
            yield from defaults_in(sub, f"{where}/{key}")


def documented_defaults(docs):
    """{dotted key: its default cell} of the docs' table rows ``| `key` | `default` | ... |``."""
    rows = re.findall(r"^\| `([a-z_0-9.]+)` \| `([^`]*)` \|", docs, re.MULTILINE)
    return dict(rows)


def config_problems(config, schema, docs):
    """Every way config.yaml, the schema and docs/configuration.md disagree; [] if none."""
    problems = [f"{where}: a default in the schema" for where in defaults_in(schema)]
    problems += [f"{where}: accepts unknown keys" for where in open_objects(schema, schema)]
    in_config = set(config_keys(config, schema, schema))
    in_schema = set(schema_keys(schema, schema))
    problems += [
        f"{key}: in config.yaml, not in the schema" for key in sorted(in_config - in_schema)
    ]
    problems += [
        f"{key}: in the schema, not in config.yaml" for key in sorted(in_schema - in_config)
    ]
    errors = jsonschema.Draft202012Validator(schema).iter_errors(config)
    problems += [f"config.yaml does not validate: {error.message}" for error in errors]
    documented = documented_defaults(docs)
    for key in sorted(in_config):
        if key not in documented:
            problems.append(f"{key}: no `{key}` row in docs/configuration.md")
            continue
        value = config
        for part in key.split("."):
            value = value[part]
        if yaml.safe_load(documented[key]) != value:
            problems.append(f"{key}: docs say {documented[key]}, config.yaml {value!r}")
    problems += [f"{key}: documented, not a setting" for key in sorted(set(documented) - in_config)]
    return problems


@pytest.fixture(scope="module")
def files():
    return load(CONFIG), load(SCHEMA), DOCS.read_text()


def test_config_schema_and_docs_agree(files):
    assert config_problems(*files) == []


def delete(mapping, dotted):
    *parents, last = dotted.split(".")
    for part in parents:
        mapping = mapping[part]
    del mapping[last]


@pytest.mark.parametrize(
    ("plant", "problem"),
    [
        (lambda c, s, d: c["relabel"].update(epochz=3), "relabel.epochz: in config.yaml, not"),
        (lambda c, s, d: delete(c, "relabel.use_pseudo"), "relabel.use_pseudo: in the schema, not"),
        (lambda c, s, d: c["relabel"].update(lr=-1.0), "config.yaml does not validate: -1.0"),
        (
            lambda c, s, d: s["properties"]["folds"]["properties"].update(k={"type": "integer"}),
            "folds.k: in the schema, not in config.yaml",
        ),
        (
            lambda c, s, d: s["properties"]["folds"]["properties"]["seed"].update(default=1),
            "schema/properties/folds/properties/seed: a default in the schema",
        ),
        (
            lambda c, s, d: s["properties"]["folds"].pop("additionalProperties"),
            "schema/properties/folds: accepts unknown keys",
        ),
        (
            lambda c, s, d: s["properties"]["relabel"].pop("unevaluatedProperties"),
            "schema/properties/relabel: accepts unknown keys",
        ),
    ],
)
def test_a_planted_config_or_schema_mismatch_is_found(files, plant, problem):
    config, schema, docs = copy.deepcopy(files)
    plant(config, schema, docs)
    assert any(found.startswith(problem) for found in config_problems(config, schema, docs))


def test_an_undocumented_key_or_a_wrong_documented_default_is_found(files):
    config, schema, docs = files
    row = re.search(r"^\| `relabel\.soft_out_of_fold` \|.*\n", docs, re.MULTILINE)
    assert row
    undocumented = docs.replace(row[0], "")
    assert config_problems(config, schema, undocumented) == [
        "relabel.soft_out_of_fold: no `relabel.soft_out_of_fold` row in docs/configuration.md"
    ]
    wrong = docs.replace(row[0], row[0].replace("`true`", "`false`", 1))
    assert config_problems(config, schema, wrong) == [
        "relabel.soft_out_of_fold: docs say false, config.yaml True"
    ]


def test_relabel_rounds_entries_take_the_relabel_settings_and_nothing_else(files):
    config, schema, _ = files
    validator = jsonschema.Draft202012Validator(schema)
    good = copy.deepcopy(config)
    good["relabel"]["rounds"] = {"2": {"lr": 1.0e-4, "use_pseudo": False, "soft_out_of_fold": True}}
    assert list(validator.iter_errors(good)) == []
    for bad_round in ({"n_rounds": 2}, {"rounds": {}}, {"lr": 0}, {"epochz": 1}):
        bad = copy.deepcopy(config)
        bad["relabel"]["rounds"] = {"2": bad_round}
        assert list(validator.iter_errors(bad)), bad_round


def test_unknown_weight_is_a_number_or_auto(files):
    config, schema, _ = files
    validator = jsonschema.Draft202012Validator(schema)
    for value, valid in ((0.0, True), (0.3, True), ("auto", True), ("yes", False), (1.5, False)):
        planted = copy.deepcopy(config)
        planted["relabel"]["unknown_weight"] = value
        planted["relabel"]["rounds"] = {"2": {"unknown_weight": value}}
        assert (list(validator.iter_errors(planted)) == []) == valid, value
    planted = copy.deepcopy(config)
    planted["relabel"]["few_negatives_weight"] = -0.1
    assert list(validator.iter_errors(planted))


def test_train_settings_key_lists_are_config_keys_and_fields(files):
    config, schema, _ = files
    fields = {field.name: field for field in dataclasses.fields(TrainSettings)}
    round_keys = set(properties(schema["$defs"]["relabel_round"], schema))
    assert set(settings.MODEL_KEYS) <= set(config["model"])
    assert set(settings.STAGE1_KEYS + settings.STAGE1_SWITCHES) <= set(config["stage1"])
    assert set(settings.ROUND_KEYS + settings.ROUND_SWITCHES) <= round_keys
    lists = settings.MODEL_KEYS + settings.STAGE1_KEYS + settings.ROUND_KEYS
    switches = settings.STAGE1_SWITCHES + settings.ROUND_SWITCHES
    # every field is in a list, is set by the rule, or is no config key
    assert set(settings.AUTO_KEYS) <= round_keys
    assert set(fields) == (
        set(lists + switches) | RULE_FIELDS | SWITCHED_RULE_FIELDS | AUTO_FIELDS | NOT_CONFIG
    )
    # what the workflow always passes has no default here: config.yaml's is the only one
    required = {name for name, f in fields.items() if f.default is dataclasses.MISSING}
    assert required == set(settings.MODEL_KEYS + settings.STAGE1_KEYS) | RULE_FIELDS


@pytest.mark.parametrize(
    ("section", "switches"),
    [("stage1", settings.STAGE1_SWITCHES), ("relabel", settings.ROUND_SWITCHES)],
)
def test_switches_are_off_in_train_settings_and_in_params_only_when_on(files, section, switches):
    """Params hold a switch only when it is on, so 'not in params' must mean off: the
    TrainSettings default. (config.yaml may turn a switch on: it is then in params.)"""
    config = files[0]
    defaults = {f.name: f.default for f in dataclasses.fields(TrainSettings)}
    off = {key: settings.SWITCH_OFF.get(key, 0) for key in switches}  # 0 == 0.0 == False
    for key in switches:
        assert defaults[key] == off[key], key
    assert settings.switches_on({**config[section], **off}, switches) == {}
    on = {key: value for key, value in config[section].items() if key in switches}
    assert settings.switches_on(config[section], switches) == {
        key: value for key, value in on.items() if value != off[key]
    }
    assert settings.switches_on({**config[section], **off, switches[0]: 0.4}, switches) == {
        switches[0]: 0.4
    }


def with_data(config, **data):
    planted = copy.deepcopy(config)
    for dotted, value in data.items():
        section, _, key = dotted.partition("__")
        if key:
            planted["data"][section][key] = value
        else:
            planted["data"][section] = value
    return planted


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"source": "wav"}, "config data.source is 'wav': it must be one of synthetic, rfcx"),
        ({"source": "annotated"}, "config data.source annotated needs data.annotated.recordings"),
        (
            {"source": "annotated", "annotated__recordings": "r", "annotated__annotations": "a"},
            "config data.source annotated needs data.annotated.test_recordings",
        ),
        (
            {"annotated__recordings": "r"},
            "config data.annotated.recordings is set, but data.source is synthetic",
        ),
        (
            {"source": "rfcx", "npz__dir": "n"},
            "config data.npz.dir is set, but data.source is rfcx",
        ),
        (
            {"source": "rfcx", "annotated__test_annotations": "t.csv"},
            "config data.annotated.test_annotations is set, but data.source is rfcx",
        ),
        (
            {"source": "rfcx", "annotated__fully_annotated": "full.txt"},
            "config data.annotated.fully_annotated is set, but data.source is rfcx",
        ),
    ],
)
def test_data_source_names_the_key(files, data, problem):
    with pytest.raises(ValueError) as error:
        data_source(with_data(files[0], **data))
    assert str(error.value).startswith(problem)


def test_predict_clip_recordings_is_refused_with_npz_only(files):
    config = with_data(files[0], source="npz")
    assert data_source(config) == "npz"
    config["predict"]["clip_recordings"] = True
    with pytest.raises(ValueError, match="predict.clip_recordings cuts audio"):
        data_source(config)
    assert data_source(with_data(config, source="rfcx")) == "rfcx"


def test_each_source_with_its_keys_is_accepted(files):
    config = files[0]
    assert data_source(config) == "synthetic"
    assert data_source(with_data(config, source="npz", npz__dir="logmels")) == "npz"
    paths = {f"annotated__{key}": "x" for key in settings.REQUIRED_PATHS["annotated"]}
    assert data_source(with_data(config, source="annotated", **paths)) == "annotated"
