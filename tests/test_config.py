import pytest

from seguq.config import RunConfig, load_config, save_config
from seguq.errors import SeguqError


def test_yaml_round_trip_and_overrides(tmp_path):
    config = RunConfig()
    config.train.epochs = 3
    config.data.train_domains = ["a", "b"]
    path = tmp_path / "run.yaml"
    save_config(config, path)
    loaded = load_config(path, {"train": {"lr": 0.01}})
    assert loaded.train.epochs == 3 and loaded.train.lr == 0.01
    assert loaded.data.train_domains == ["a", "b"]
    assert loaded == RunConfig.from_dict(
        {**config.to_dict(), "train": {**config.to_dict()["train"], "lr": 0.01}}
    )


def test_unknown_keys_and_bad_values_are_refused(tmp_path):
    with pytest.raises(SeguqError, match="unknown key 'epoch'"):
        RunConfig.from_dict({"train": {"epoch": 3}})
    with pytest.raises(SeguqError, match="expected a number"):
        RunConfig.from_dict({"train": {"lr": "fast"}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed")
    with pytest.raises(SeguqError, match="bad.yaml: not valid YAML"):
        load_config(bad)
    with pytest.raises(SeguqError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
