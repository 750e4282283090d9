"""`--help` documents every flag (issue 5): each entry point's help lists each flag its source
defines, with a sentence of explanation."""

import re

import pytest

from conftest import REPO, run_cli

ENTRY_POINTS = {
    "train_main.py": ["train_main.py"],
    "tfguided/predict.py": ["-m", "tfguided.predict"],
    "tfguided/evaluate.py": ["-m", "tfguided.evaluate"],
    "tfrecords_tools/__main__.py": ["-m", "tfrecords_tools"],
}


def _defined_flags(source):
    with open(f"{REPO}/{source}") as f:
        return re.findall(r"DEFINE_\w+\(\s*[\"'](\w+)[\"']", f.read())


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
