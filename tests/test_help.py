"""`--help` documents every flag (issue 5): each entry point's help lists each flag its source
defines, with a sentence of explanation."""

import json
import re

import pytest

from conftest import REPO, run_cli

ENTRY_POINTS = {
    "train_main.py": ["train_main.py"],
    "tfguided/predict.py": ["-m", "tfguided.predict"],
    "tfguided/evaluate.py": ["-m", "tfguided.evaluate"],
    "tfrecords_tools/__main__.py": ["-m", "tfrecords_tools"],
    **{f"tfrecords_tools/{name}.py": ["-m", "tfrecords_tools", name] for name in ("synthetic", "voc", "msra")},
}


def _defined_flags(source):
    with open(f"{REPO}/{source}") as f:
        return re.findall(r"DEFINE_\w+\(\s*[\"'](\w+)[\"']", f.read())


@pytest.mark.slow
@pytest.mark.parametrize("source", sorted(ENTRY_POINTS))
def test_help_explains_every_flag(source):
    names = _defined_flags(source)
    assert names, f"{source} defines no flags"
    out = run_cli(ENTRY_POINTS[source] + ["--helpfull"], check=False).stdout
    for name in names:
        match = re.search(rf"^  --(?:\[no\])?{name}:(.*(?:\n {{4}}\S.*)*)", out, re.M)
        assert match, f"{source}: --{name} missing from --helpfull"
        text = re.sub(r"\(default: .*\)|<[^>]*>:?", "", " ".join(match.group(1).split()))
        assert len(text.split()) >= 4, f"{source}: --{name} is not explained: {match.group(1)!r}"


@pytest.mark.slow
@pytest.mark.parametrize("command", [["train_main.py"], ["-m", "tfguided.predict"], ["-m", "tfguided.evaluate"],
                                     ["-m", "tfrecords_tools"]])
def test_help_exits_zero(command):
    proc = run_cli(command + ["--help"], check=False)
    assert proc.returncode == 0 and "--" in proc.stdout, proc.stdout[-500:]


@pytest.mark.slow
def test_list_overrides_and_one_seed_for_every_draw():
    listed = run_cli(["train_main.py", "--list_overrides", "--preset=voc_animals"]).stdout
    assert "  guide.tau=0.6  (float)" in listed and "  data.classes=cat,cow,dog,horse,sheep  (str)" in listed
    config = run_cli(["train_main.py", "--seed=3", "--dry_run", "--preset=tiny", "--stage=seeder"]).stdout
    resolved = json.loads(config[config.index("{"):config.index("\n}\n") + 2])  # the dry run's config
    seeds = [resolved["data"]["rng_seed"], resolved["guide"]["rng_seed"]] + [
        resolved[s]["train"]["rng_seed"] for s in ("seeder", "classifier", "saliency", "segmenter")]
    assert seeds == [3] * 6
