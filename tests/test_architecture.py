"""The package's rooms import only what their __init__.py allows: no algorithm imports the config
module or the stages (they take plain arguments), and nothing imports upward."""

import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tfguided")
# Room -> the other tfguided modules and rooms it may import (as its __init__.py says).
ALLOWED = {
    "crf": set(),
    "data": {"files"},
    "eval": {"data"},
    "saliency": {"data"},
    "models": {"data", "scoremaps"},
    "seeds": {"data", "crf", "scoremaps"},
    "guide": {"data", "crf", "scoremaps", "saliency", "seeds"},
    "sources": {"data", "files", "progress", "saliency"},
    "train": {"data", "files", "crf", "scoremaps", "eval", "models"},
}


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
        assert "configs" not in imported and "stages" not in imported, f"{path} imports {imported}"
        assert imported <= ALLOWED[room], f"{path} imports {sorted(imported - ALLOWED[room])}"


def test_the_checker_sees_every_import_form(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import tfguided.configs\nfrom tfguided import stages, files\n"
                    "def f():\n    from tfguided.data.records import dataset\n")
    assert tfguided_imports(str(path)) == {"configs", "stages", "files", "data"}
