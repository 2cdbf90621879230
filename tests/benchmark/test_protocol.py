from pathlib import Path

import pytest
import yaml

from seguq.benchmark.protocol import load_protocol
from seguq.errors import SeguqError

CONFIGS = Path(__file__).resolve().parents[2] / "benchmarks" / "configs"


def write(tmp_path: Path, **protocol) -> Path:
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(protocol))
    return path


BASE = {
    "sources": {"jsrt": "cxr/manifest.csv"},
    "train": {"source": "jsrt", "split": "fold1"},
    "test": {"source": "jsrt", "splits": ["fold2"]},
}


def test_reads_sets_seeds_methods_and_relative_data_root(tmp_path):
    path = write(
        tmp_path,
        **BASE,
        data_root="../data",
        far_ood={"us": {"source": "jsrt", "max_cases": 3}},
        corruptions={"kinds": ["noise"], "strengths": [1, 2]},
        methods=["deterministic", "hue:beta=1"],
        seeds=2,
        config={"train": {"epochs": 3}},
    )
    protocol = load_protocol(path)
    assert protocol.data_root == (tmp_path.parent / "data").resolve()
    assert protocol.sources["jsrt"] == {"path": "cxr/manifest.csv", "kind": "manifest"}
    assert protocol.sets == {"us": {"role": "far_ood", "source": "jsrt", "max_cases": 3}}
    assert protocol.seeds == [0, 1]
    assert [v.label for v in protocol.variants] == ["deterministic", "hue:beta=1"]
    assert protocol.base.train.epochs == 3
    # The command line's data root and budget win, and become part of the saved protocol.
    other = load_protocol(path, data_root=tmp_path, overrides={"train": {"epochs": 1}})
    assert other.data_root == tmp_path and other.base.train.epochs == 1
    assert other.raw["config"]["train"]["epochs"] == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown keys \\['colour'\\]"),
        ({"test": {"source": "nowhere"}}, "test: source 'nowhere' is not in 'sources'"),
        ({"methods": ["magic"]}, "methods: unknown \\['magic'\\]"),
        ({"corruptions": {"kinds": ["fog"]}}, "corruptions: expected kinds"),
        ({"corruptions": {"kinds": ["blur"], "strengths": [0]}}, "strengths must be positive"),
        ({"seeds": 0}, "seeds: expected a positive count"),
        ({"protocol": "kfold"}, "protocol: unknown 'kfold'"),
        ({"config": {"train": {"epochz": 1}}}, "epochz"),
        ({"far_ood": {"test": {"source": "jsrt"}}}, "set name 'test' is used twice"),
    ],
)
def test_bad_protocols_name_the_file_and_the_problem(tmp_path, change, message):
    path = write(tmp_path, **{**BASE, **change})
    with pytest.raises(SeguqError, match=message) as error:
        load_protocol(path)
    assert str(error.value).startswith(str(path))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SeguqError, match="cannot read the protocol"):
        load_protocol(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    "name", ["synthetic-quick", "cxr", "vessels", "seed-samples", "vessels-256-one-seed"]
)
def test_shipped_configs_parse(name):
    protocol = load_protocol(CONFIGS / f"{name}.yaml")
    assert protocol.name == name and protocol.variants


def test_the_prepared_copy_is_never_written_into_the_data(tmp_path):
    from seguq.benchmark.prepare import prepare_source

    data = tmp_path / "data" / "cxr"
    data.mkdir(parents=True)
    (data / "manifest.csv").write_text("id,image,mask\n")
    spec = {"kind": "manifest", "path": "cxr/manifest.csv"}
    with pytest.raises(SeguqError, match=r"overlaps the data .*cxr/manifest\.csv"):
        prepare_source("cxr", spec, tmp_path / "data", tmp_path / "data", 64, None)  # work/cxr
    assert sorted(p.name for p in data.iterdir()) == ["manifest.csv"]


def test_a_real_data_set_with_the_synthetic_header_is_not_taken_for_generated_data(tmp_path):
    from seguq.data.synthetic.writer import is_complete

    (tmp_path / "manifest.csv").write_text("id,domain,split,image,mask\n")
    assert not is_complete(tmp_path)  # so generate_synthetic(overwrite=True) refuses it
