"""The package's rooms import only what their __init__.py allows: no algorithm imports the config
module or the stages (they take plain arguments), nothing imports upward, no stage module imports
another, the light modules stay free of TensorFlow, and the registries are the one list of each
extension point's names."""

import ast
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tfguided")
# Room -> the other tfguided modules and rooms it may import (as its __init__.py says).
ALLOWED = {
    "crf": set(),
    "choices": set(),
    "registry": set(),
    "data": {"files", "progress"},
    "eval": {"data"},
    "saliency": {"data"},
    "models": {"data", "registry", "scoremaps"},
    "seeds": {"data", "crf", "scoremaps"},
    "guide": {"data", "crf", "registry", "scoremaps", "saliency", "seeds"},
    "sources": {"data", "files", "progress", "saliency"},
    "train": {"choices", "data", "files", "crf", "scoremaps", "eval", "models"},
    "configs": {"choices", "crf", "guide", "models", "registry"},
}
STAGE_MODULES = ("data", "seeder", "saliency", "guide", "segmenter", "evaluate", "seed_eval", "export")


def tfguided_imports(path):
    """The first component under tfguided of every module `path` imports (`from tfguided import x`
    counts as x), anywhere in the file."""
    tree = ast.parse(open(path).read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = ([f"{node.module}.{alias.name}" for alias in node.names] if node.module == "tfguided"
                     else [node.module])
        else:
            continue
        found |= {name.split(".")[1] for name in names if name.startswith("tfguided.")}
    return found


def room_files(room):
    if os.path.isfile(os.path.join(PACKAGE, room + ".py")):
        return [os.path.join(PACKAGE, room + ".py")]
    folder = os.path.join(PACKAGE, room)
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".py")]


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_room_imports_only_what_it_may(room):
    for path in room_files(room):
        imported = tfguided_imports(path) - {room}
        assert ("configs" not in imported or room == "configs") and "stages" not in imported, f"{path} imports {imported}"
        assert imported <= ALLOWED[room], f"{path} imports {sorted(imported - ALLOWED[room])}"


def stage_imports(path):
    """The modules of tfguided/stages that `path` imports."""
    tree = ast.parse(open(path).read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "tfguided.stages":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tfguided.stages."):
            found.add(node.module.split(".")[2])
    return found


@pytest.mark.parametrize("stage", STAGE_MODULES)
def test_no_stage_module_imports_another(stage):
    """Stages share helpers (context, predictions, seed_maps, summaries), never each other; the
    table is what knows them all."""
    imported = stage_imports(os.path.join(PACKAGE, "stages", stage + ".py"))
    assert not imported & set(STAGE_MODULES), f"stages/{stage}.py imports {sorted(imported & set(STAGE_MODULES))}"


@pytest.mark.slow
@pytest.mark.parametrize("module", ["tfguided", "tfguided.guide.g2", "tfguided.guide.label", "tfguided.registry",
                                    "tfguided.configs", "tfguided.models.interface"])
def test_light_modules_load_neither_tensorflow_nor_keras(module):
    code = (f"import sys, {module}\n"
            "from tfguided import registry\n"
            "names = [r.names() for r in (registry.BACKBONES, registry.HEADS, registry.SEEDERS, registry.GUIDES,"
            " registry.SALIENCY, registry.SOURCES)]\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", f"import {module} loads {out.stdout.strip()}"


def test_no_list_of_registered_names_outside_the_registry():
    """A literal tuple or list holding two or more names of one registry (its own entries aside)
    would be a second copy of the choices, out of date with the next entry."""
    sys.path.insert(0, REPO)
    from tfguided import registry
    tables = {"backbone": registry.BACKBONES, "head": registry.HEADS, "guide": registry.GUIDES,
              "saliency": registry.SALIENCY, "source": registry.SOURCES}
    roots = [PACKAGE, os.path.join(REPO, "bench"), os.path.join(REPO, "tfrecords_tools"),
             os.path.join(REPO, "train_main.py")]
    paths = [os.path.join(d, f) for root in roots for d, _, fs in (os.walk(root) if os.path.isdir(root) else
             [(os.path.dirname(root), None, [os.path.basename(root)])]) for f in fs if f.endswith(".py")]
    found = []
    for path in paths:
        if path.endswith(os.path.join("tfguided", "registry.py")):
            continue
        for node in ast.walk(ast.parse(open(path).read(), path)):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                words = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                for kind, table in tables.items():
                    if len(words & set(table.names())) >= 2:
                        found.append(f"{os.path.relpath(path, REPO)}:{node.lineno}: {kind} names {sorted(words)}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for kind, table in tables.items():
                    listed = re.findall(r"\b(" + "|".join(map(re.escape, table.names())) + r")\b(?=\s*[|/]\s*\w)",
                                        node.value)
                    if len(listed) >= 2 and kind in ("guide", "backbone", "head"):
                        found.append(f"{os.path.relpath(path, REPO)}:{node.lineno}: {kind} names {listed}")
    assert not found, "\n".join(found)


def test_the_checker_sees_every_import_form(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import tfguided.configs\nfrom tfguided import stages, files\n"
                    "def f():\n    from tfguided.data.records import dataset\n")
    assert tfguided_imports(str(path)) == {"configs", "stages", "files", "data"}
