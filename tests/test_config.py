"""One config mechanism (vsml/config.py) for every config class: unknown keys, types, YAML, --set."""
import dataclasses
from typing import Optional

import pytest

from vsml import config as configs
from vsml import meta
from vsml.cloning import CloningConfig
from vsml.lstm import SubLSTMConfig
from vsml.metarnn import MetaRNNConfig
from vsml.network import VSMLConfig


@dataclasses.dataclass
class Example:
    count: int = 1
    rate: float = 0.5
    flag: bool = False
    name: str = "a"
    limit: Optional[float] = None
    sizes: tuple[int, ...] = (1, 2)
    sub: SubLSTMConfig = dataclasses.field(default_factory=SubLSTMConfig)
    options: dict = dataclasses.field(default_factory=dict)


@pytest.mark.parametrize("field, given, expected", [
    ("count", "16", 16), ("count", "1e3", 1000), ("count", 3.0, 3),
    ("rate", "1e-3", 1e-3), ("rate", "1e2", 100.0), ("rate", 3, 3.0),
    ("flag", "true", True), ("flag", "off", False), ("flag", True, True),
    ("limit", None, None), ("limit", "4", 4.0),
    ("sizes", [7, "10"], (7, 10)),
    ("sub", {"state_size": "8", "layer_norm": "yes"}, SubLSTMConfig(state_size=8, layer_norm=True)),
])
def test_values_are_converted_to_the_annotated_type(field, given, expected):
    got = getattr(configs.from_dict(Example, {field: given}), field)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("field, given, match", [
    ("count", 2.5, "count must be an integer, got 2.5"),
    ("count", "many", "count must be an integer, got 'many'"),
    ("count", True, "count must be an integer, got True"),
    ("rate", "fast", "rate must be a number, got 'fast'"),
    ("flag", "maybe", "flag must be true or false, got 'maybe'"),
    ("name", 3, "name must be a string, got 3"),
    ("sizes", "7, 10", "sizes must be a list"),
    ("sub", {"stat_size": 8}, r"unknown Example.sub option\(s\) \['stat_size'\]; known: \['bwd_size'"),
    ("options", [1], "options must be a mapping"),
])
def test_bad_values_are_one_line_errors(field, given, match):
    with pytest.raises(ValueError, match=match) as info:
        configs.from_dict(Example, {field: given}, where="Example")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("cls", [meta.MetaConfig, CloningConfig, VSMLConfig, MetaRNNConfig])
def test_every_config_class_rejects_unknown_keys_and_round_trips(cls):
    with pytest.raises(ValueError, match=r"unknown \w+ option\(s\) \['no_such_key'\]; known: \["):
        cls.from_dict({"no_such_key": 1})
    default = cls()
    assert cls.from_dict(default.to_dict()) == default


def test_config_classes_convert_on_direct_construction_too():
    assert CloningConfig(lr="0.3", steps="10").lr == 0.3
    assert meta.MetaConfig(lr="1e-3", num_threads="2").num_threads == 2
    assert MetaRNNConfig(output_bound="1e2").output_bound == 100.0


def test_yaml_1e2_reaches_the_model_as_a_number(tmp_path):
    """Issue 10: YAML 1.1 reads ``1e2`` as a string; it used to reach VSMLConfig.output_bound unconverted."""
    path = tmp_path / "run.yaml"
    path.write_text("method: bptt\nlr: 1e-3\nmodel_options:\n  output_bound: 1e2\n  sub_lstm:\n    state_size: 8\n")
    cfg = meta.load_config(path)
    assert cfg.lr == 1e-3
    model = meta.build_model(cfg, 4, 2)
    assert model.config.output_bound == 100.0 and isinstance(model.config.output_bound, float)
    assert model.config.sub_lstm.state_size == 8
    path.write_text("method: bptt\nmodel_options:\n  output_bound: lots\n")
    with pytest.raises(ValueError, match="model_options for model 'vsml': output_bound must be a number"):
        meta.load_config(path)


def test_malformed_yaml_and_set_values_are_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: es\nlr: [0.1\n")
    with pytest.raises(ValueError, match=r"bad.yaml: malformed YAML \(line \d+, column \d+\)") as info:
        meta.load_config(bad)
    assert "\n" not in str(info.value)
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="must be a YAML mapping"):
        meta.load_config(tmp_path / "list.yaml")
    with pytest.raises(ValueError, match=r"--set lr: cannot read the value '\[0.1'"):
        meta.load_config("smoke", ["lr=[0.1"])
    with pytest.raises(ValueError, match="--set expects key=value, got 'lr'"):
        meta.load_config("smoke", ["lr"])
    with pytest.raises(ValueError, match="lr must be a number, got 'fast'"):
        meta.load_config("smoke", ["lr=fast"])
    # The command line prints them as one line, no traceback.
    for argv in (["--config", str(bad)], ["--config", "smoke", "--set", "lr=[0.1"]):
        assert meta.main(["train", *argv, "--out", str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_overrides_create_nested_mappings_and_reject_non_mappings():
    values = configs.apply_overrides({"a": 1}, ["b.c.d=3", "e=[7, 10]"])
    assert values == {"a": 1, "b": {"c": {"d": 3}}, "e": [7, 10]}
    with pytest.raises(ValueError, match="'a' is not a mapping"):
        configs.apply_overrides({"a": 1}, ["a.b=2"])
