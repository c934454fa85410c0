"""depthkit's modules form layers that point one way: no import cycles, no upward imports, no borrowed privates.

Every import in ``depthkit/`` is read with :mod:`ast` -- module-level and function-level ones, relative
(``from .viz import colorize``, ``from .. import losses``) and absolute (``import depthkit.io``) -- and the
module graph is checked against :data:`LAYERS`. A new module must be given a layer here.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "depthkit"

CORE, ANALYSIS, MEASURE, TOP = 0, 1, 2, 3
#: Module -> layer. A module may import modules of its own layer (if that makes no cycle) or of lower layers.
LAYERS = {
    # core: reading photos, preparing them, the network, its weights, running it
    "depthkit.errors": CORE,
    "depthkit.checks": CORE,
    "depthkit.runtime": CORE,
    "depthkit.alignment": CORE,
    "depthkit.io": CORE,
    "depthkit.transforms": CORE,
    "depthkit.model": CORE,
    "depthkit.network_resize": CORE,  # photo -> network input size and back (the official Resize rule)
    "depthkit.dpt_decoder": CORE,  # DPT reassembly/fusion shared by the transformer models
    "depthkit.dpt_hybrid": CORE,  # MiDaS v3.0 DPT-Hybrid
    "depthkit.depth_anything": CORE,  # Depth Anything V2 Small
    "depthkit.model_registry": CORE,  # name -> builder, checkpoint, preprocessing, upsampling, licence
    "depthkit.weights": CORE,
    "depthkit.inference": CORE,
    "depthkit.backends": CORE,
    "depthkit.artifact_cache": CORE,  # exported / quantised models and the backend choice, cached on disk
    "depthkit.quantization": CORE,  # int8 post-training quantisation (NNCF), calibrated on the bundled photos
    "depthkit.backend_choice": CORE,  # backend="auto": measured once per machine and weights
    "depthkit.video": CORE,  # reading/writing video files, temporal stabilisation of depth maps (arrays only)
    # arrays in, arrays out: pictures, effects, training losses, evaluation, data (bundled photos, synthetic scenes)
    "depthkit.viz": ANALYSIS,
    "depthkit.effects": ANALYSIS,
    "depthkit.losses": ANALYSIS,
    "depthkit.metrics": ANALYSIS,
    "depthkit.calibration": ANALYSIS,
    "depthkit.synthetic": ANALYSIS,
    "depthkit.samples": CORE,  # the bundled photos are data (read with io; int8 calibrates on them); demos are TOP
    "depthkit.tutorial_snippet": ANALYSIS,
    # measuring and experimenting
    "depthkit.bench": MEASURE,
    "depthkit.experiments": MEASURE,  # and its submodules (mixing, tiny_net)
    # user-facing glue: pipelines, demos, the app, the command line, reports, lesson exercises
    "depthkit.pipeline": TOP,
    "depthkit.video_depth": TOP,  # the network over a video: frames -> stabilised depth -> MP4
    "depthkit.demo": TOP,
    "depthkit.depth_app": TOP,
    "depthkit.webcam": TOP,  # the browser's camera -> stabilised heat maps (anywidget)
    "depthkit.cli": TOP,
    "depthkit.doctor": TOP,
    "depthkit.report": TOP,
    "depthkit.__main__": TOP,
    "depthkit.exercises": TOP,  # and its submodules (lessonNN)
}
#: Modules that take arrays, never a model: they must not reach the network or its weights.
ARRAYS_ONLY = ("depthkit.viz", "depthkit.effects")
MODEL_MODULES = ("depthkit.model", "depthkit.weights", "depthkit.inference", "depthkit.backends")
#: The package itself only re-exports names lazily (PEP 562); importing it from inside hides a dependency.
FACADE = "depthkit"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """The layer of a module: its own entry in LAYERS, else that of the nearest package listed (submodules)."""
    while module:
        if module in LAYERS:
            return LAYERS[module]
        module = module.rpartition(".")[0]
    return None


def _base(name: str, is_package: bool, level: int, target: str | None) -> str:
    """Absolute module of ``from <level dots><target> import ...`` written in module ``name``."""
    parts = (name if is_package else name.rpartition(".")[0]).split(".")
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([target] if target else []))


def imports_of(name: str, source: str, known: set[str], *,
               is_package: bool = False) -> list[tuple[str, int, list[str]]]:
    """``(imported module, line, imported names)`` for every depthkit import in ``source``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno, []) for a in node.names if a.name.split(".")[0] == FACADE]
        elif isinstance(node, ast.ImportFrom):
            base = _base(name, is_package, node.level, node.module) if node.level else (node.module or "")
            if base.split(".")[0] != FACADE:
                continue
            names = [a.name for a in node.names]
            submodules = [n for n in names if f"{base}.{n}" in known]
            found += [(f"{base}.{n}", node.lineno, []) for n in submodules]
            rest = [n for n in names if n not in submodules]
            if rest or not submodules:
                found.append((base, node.lineno, rest))
    return found


def private_attributes(name: str, source: str, known: set[str], *, is_package: bool = False) -> list[str]:
    """``alias._name`` uses where ``alias`` is another depthkit module bound by an import (``from . import viz``)."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update({a.asname: a.name for a in node.names if a.asname and a.name in known})
        elif isinstance(node, ast.ImportFrom):
            base = _base(name, is_package, node.level, node.module) if node.level else (node.module or "")
            aliases.update({a.asname or a.name: f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known})
    return [f"{node.lineno}: {aliases[node.value.id]}.{node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
            and aliases[node.value.id] != name and node.attr.startswith("_") and not node.attr.startswith("__")]


@functools.lru_cache(maxsize=1)
def graph() -> tuple[dict[str, set[str]], list[str]]:
    """Module -> the depthkit modules it imports, and the list of ``from x import _private`` lines."""
    mods = modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    private = []
    for name, path in mods.items():
        source = path.read_text(encoding="utf-8")
        is_package = path.name == "__init__.py"
        rel = path.relative_to(PACKAGE.parent)
        private += [f"{rel}:{use}" for use in private_attributes(name, source, set(mods), is_package=is_package)]
        for target, line, names in imports_of(name, source, set(mods), is_package=is_package):
            if target != name and not name.startswith(target + "."):  # a submodule may import its own package
                edges[name].add(target)
            borrowed = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if borrowed and target != name:
                private.append(f"{rel}:{line}: from {target} import {', '.join(borrowed)}")
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as one cycle path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _cycle_path(component: list[str], edges: dict[str, set[str]]) -> str:
    """One concrete cycle inside a strongly connected component, e.g. ``a -> b -> c -> a``."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    while True:
        nxt = next((w for w in sorted(edges[path[-1]]) if w in members and (w == start or w not in seen)), None)
        if nxt is None or nxt == start:
            return " -> ".join([*path, start])
        path.append(nxt)
        seen.add(nxt)


def test_the_parser_sees_every_kind_of_import():
    known = {"depthkit.viz", "depthkit.losses", "depthkit.io", "depthkit.experiments", "depthkit.experiments.mixing"}
    source = ("import numpy\nfrom .. import losses\nfrom ..viz import colorize, _as_map\n"
              "def f():\n    import depthkit.io\n    from . import mixing\n    from depthkit import __version__\n")
    got = imports_of("depthkit.experiments.probe", source, known)  # as if it were depthkit/experiments/probe.py
    assert sorted(got) == sorted([
        ("depthkit.losses", 2, []),
        ("depthkit.viz", 3, ["colorize", "_as_map"]),
        ("depthkit.io", 5, []),
        ("depthkit.experiments.mixing", 6, []),
        ("depthkit", 7, ["__version__"]),
    ])
    assert imports_of("depthkit.experiments", "from .tiny_net import X\n", known, is_package=True) == [
        ("depthkit.experiments.tiny_net", 1, ["X"])]
    use = "from .. import losses\nimport depthkit.viz as v\nlosses._helper(v._as_map(x), losses.public, v.__name__)\n"
    assert private_attributes("depthkit.experiments.probe", use, known) == [
        "3: depthkit.losses._helper", "3: depthkit.viz._as_map"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycle_path(["a", "b", "c"], {"a": {"b"}, "b": {"c"}, "c": {"a"}}) == "a -> b -> c -> a"


def test_every_module_has_a_layer():
    mods = set(modules())
    missing = sorted(m for m in mods - {FACADE} if layer_of(m) is None)
    stale = sorted(set(LAYERS) - mods)
    assert not missing, f"give these modules a layer in tests/test_layers.py LAYERS: {missing}"
    assert not stale, f"these modules no longer exist; remove them from LAYERS: {stale}"


def test_no_import_cycles():
    edges, _ = graph()
    found = [_cycle_path(c, edges) for c in cycles(edges)]
    assert not found, "import cycles between depthkit modules:\n" + "\n".join(found)


def test_layers_point_down():
    edges, _ = graph()
    upward = []
    for module, targets in sorted(edges.items()):
        if module == FACADE:
            continue
        for target in sorted(targets):
            if target == FACADE:
                upward.append(f"{module} imports the package facade 'depthkit'; import the defining module instead")
            elif (layer_of(target) or 0) > (layer_of(module) or 0):
                upward.append(f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})")
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def test_no_module_imports_another_modules_private_names():
    _, private = graph()
    assert not private, "imports of another module's private (_underscore) names:\n" + "\n".join(private)


@pytest.mark.parametrize("core", [m for m, layer in LAYERS.items() if layer == CORE])
def test_core_imports_only_core(core):
    edges, _ = graph()
    if core not in edges:
        pytest.fail(f"{core} is listed as core but does not exist")
    above = sorted(t for t in edges[core] if layer_of(t) != CORE)
    assert not above, f"{core} is core but imports {above}"


@pytest.mark.parametrize("module", ARRAYS_ONLY)
def test_viz_and_effects_take_arrays_not_a_model(module):
    edges, _ = graph()
    reached = sorted(t for t in edges.get(module, ()) if t in MODEL_MODULES)
    assert not reached, f"{module} takes arrays, never a model, but imports {reached}; move that code to a demo"
