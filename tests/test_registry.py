"""The extension points (tfguided/registry.py): names, refusals, facts read without importing,
and the command line reading them."""

import pytest

from conftest import run_cli
from tfguided import configs, registry


def test_a_registry_lists_looks_up_and_refuses_by_name():
    table = registry.Registry("widget", "--widget")
    table.register("a", "json:dumps", "the first", colour="red")
    table.register("b", "json:loads", "the second", colour="blue")
    assert table.names() == ("a", "b") and "a" in table and table.where(colour="blue") == ("b",)
    assert table["a"]["colour"] == "red" and table.load("b")('{"x": 1}') == {"x": 1}
    assert table.help() == "a = the first; b = the second"
    with pytest.raises(ValueError, match=r"--widget='c': unknown widget; choose one of a, b"):
        table["c"]
    with pytest.raises(ValueError, match="widget 'a' is registered already"):
        table.register("a", "json:dumps", "again")
    with pytest.raises(ValueError, match="not 'module:attribute'"):
        table.register("d", "json.dumps", "no colon")
    table.register("e", "json:no_such_thing", "broken")
    with pytest.raises(ImportError, match=r"e: cannot load json:no_such_thing"):
        table.load("e")


def test_the_facts_the_stages_read_are_there_for_every_entry():
    for name in registry.BACKBONES.names():
        entry = registry.BACKBONES[name]
        assert {"output_strides", "decoder", "paper_head", "gap_pools"} <= set(entry.info), name
    for name in registry.GUIDES.names():
        assert set(registry.GUIDES[name]["needs"]) <= {"seeder", "saliency", "classifier", "masks"}, name
    for name in registry.SALIENCY.names():
        assert {"trains", "saliency_set"} <= set(registry.SALIENCY[name].info), name
    for name in registry.SOURCES.names():
        assert set(registry.SOURCES[name]["roles"]) <= {"target", "saliency"}, name
    assert registry.GROUND_TRUTH not in registry.GUIDES.names()


def test_every_registered_choice_is_a_valid_config_value():
    for name in registry.GUIDES.names():
        configs.override(configs.preset("tiny"), [f"guide.strategy={name}"])
    for name in registry.SEEDERS.names():
        configs.override(configs.preset("tiny"), [f"seeder.arch={name}"])
    with pytest.raises(ValueError, match="guide.strategy='g3': choose one of seeds, g0, g1, g2, oracle, gt"):
        configs.override(configs.preset("tiny"), ["guide.strategy=g3"])


@pytest.mark.slow
def test_the_guide_flag_and_an_override_of_guide_strategy_agree_or_are_refused():
    """Before, --guide (default g2) silently replaced --override=guide.strategy=..."""
    out = run_cli(["train_main.py", "--preset=tiny", "--override=guide.strategy=g0", "--dry_run"]).stdout
    assert '"strategy": "g0"' in out
    refused = run_cli(["train_main.py", "--preset=tiny", "--guide=g2", "--override=guide.strategy=g0", "--dry_run"],
                      check=False)
    assert refused.returncode == 2 and "--guide=g2 and --override=guide.strategy=g0 disagree" in refused.stdout


@pytest.mark.slow
def test_an_extension_module_that_does_not_import_is_named(tmp_path):
    proc = run_cli(["train_main.py", "--help"], env={"TFGUIDED_EXTENSIONS": "no_such_module_here"}, check=False)
    assert proc.returncode != 0 and "$TFGUIDED_EXTENSIONS: cannot import 'no_such_module_here'" in proc.stdout


def test_readme_lists_every_registered_name():
    """README's extension table is the users' list of choices: it must not fall behind."""
    import os
    from conftest import REPO
    text = open(os.path.join(REPO, "README.md")).read()
    table = text[text.index("| registry | entries |"):]
    for kind in (registry.BACKBONES, registry.HEADS, registry.SEEDERS, registry.GUIDES, registry.SALIENCY,
                 registry.SOURCES):
        row = next(line for line in table.splitlines() if line.startswith(f"| `{kind_name(kind)}` |"))
        assert all(name in row for name in kind.names()), (kind.kind, row)


def kind_name(table):
    return next(name for name in dir(registry) if getattr(registry, name) is table)


def test_a_data_folder_the_source_does_not_read_is_refused():
    """The demo's synthetic source reads no folder: a target_root set beside it would be ignored."""
    with pytest.raises(ValueError, match="data.target_root=/photos: data.target_source=synthetic reads no folder"):
        configs.override(configs.preset("tiny"), ["data.target_root=/photos"])
    cfg = configs.override(configs.preset("tiny"), ["data.target_source=voc", "data.target_root=/photos"])
    assert cfg.data.target_root == "/photos"
