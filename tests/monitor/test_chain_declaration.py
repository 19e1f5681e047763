"""What the chain's declaration (monitor/chain.py) says must exist, derived from it and checked: the Dagster
assets, `MonitorSession`, `cxgm describe` and the README's table of frames. A frame added, changed or removed in
one place and not in another fails here, naming the frame."""

import inspect
import re
from pathlib import Path

import pandera.pandas as pa
import pytest
from dagster import AssetKey
from typer.testing import CliRunner

from cxgm_pipeline.monitor.chain import CHAIN, FRAMES, SPECS, Frame

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FRAMES_DIR = ROOT / "cxgm_pipeline" / "monitor" / "frames"


def _names(declared: type) -> dict[str, str]:
    return {k: v for k, v in vars(declared).items() if not k.startswith("_")}


def test_every_frame_name_is_declared_once_after_its_inputs():
    assert set(_names(Frame).values()) == set(FRAMES), "a Frame name without its FrameSpec, or one without a name"
    assert all(k == v for k, v in _names(Frame).items())
    assert len(FRAMES) == len(CHAIN), "two FrameSpecs of one name"
    for i, spec in enumerate(CHAIN):
        assert set(spec.inputs) <= set(FRAMES[:i]), f"{spec.name}: an input is declared after it, or not at all"
        assert spec.group in {"aws", "rollups"}, spec.name
        assert issubclass(spec.model_class, pa.DataFrameModel) and spec.model_class.__name__ == spec.model, spec.name
        for name in spec.publishes:
            assert name.endswith((".csv", ".json")), f"{spec.name} publishes {name}: publish() writes CSV or JSON"


def test_one_dagster_asset_per_frame_as_declared():
    from cxgm_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    for spec in CHAIN:
        node = graph.get(AssetKey(spec.name))
        assert {k.to_user_string() for k in node.parent_keys} == set(spec.inputs), spec.name
        assert node.assets_def.op.output_defs[0].dagster_type.key == spec.model, spec.name
        assert node.kinds == ({"aws", "pandas"} if spec.reads_aws else {"pandas"}), spec.name
        assert node.group_name == spec.group, spec.name
        assert node.description == spec.doc, spec.name
        # the catalog shows the model's own docstring: one it lacks reads as the bare frame name
        assert spec.model_class.__dict__.get("__doc__"), f"{spec.model} has no docstring of its own"
        assert node.is_partitioned, spec.name


def test_the_session_builds_and_summarizes_every_frame(tmp_path):
    """An attempt that never ran in a stage builds every frame empty, without AWS: each builder is wired to its
    declared inputs, returns its model's columns, and its summary reads it."""
    from cxgm_pipeline.monitor.chain import Apis, Build
    from cxgm_pipeline.monitor.session import MonitorSession
    from cxgm_pipeline.monitor.store.frames import FrameStore

    session = MonitorSession(store=FrameStore(str(tmp_path)))
    built = session.fetch("dev", None)
    assert tuple(built) == FRAMES
    b = Build("dev", None, built, Apis(session.batch, session.logs, session.sfn, session.artifacts))
    for spec in CHAIN:
        assert list(built[spec.name].columns) == list(spec.model_class.to_schema().columns), spec.name
        assert isinstance(spec.summary(built[spec.name], b), dict), spec.name
    for spec in CHAIN:  # and each frame alone, with only what it is built from
        assert set(session.fetch("dev", None, (spec.name,))) == _closure(spec.name), spec.name


def _closure(name: str) -> set[str]:
    return {name}.union(*(_closure(i) for i in SPECS[name].inputs))


def test_every_view_is_a_describe_choice_over_its_frames_columns(monkeypatch):
    from cxgm_pipeline.cli import app
    from cxgm_pipeline.cli.describe import VIEWS, What

    monkeypatch.setenv("COLUMNS", "300")
    help_text = CliRunner().invoke(app, ["describe", "--help"]).output
    views = [spec.view for spec in CHAIN if spec.view]
    assert [v.what for v in views] == list(VIEWS)
    assert [w.value for w in What if w.value != "dataset"] == [v.what for v in views]
    for spec in CHAIN:
        if spec.view is None:
            continue
        assert spec.view.what in help_text, f"{spec.name}: `cxgm describe {spec.view.what}` missing from --help"
        columns = set(spec.model_class.to_schema().columns)
        used = set(spec.view.columns) | {c for c in (spec.view.status, spec.view.step) if c}
        assert used <= columns, f"{spec.name}'s view names columns its model lacks: {sorted(used - columns)}"


def _readme_table(heading: str) -> list[list[str]]:
    text = README.read_text()
    assert heading in text, f"README: no section {heading!r}"
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return table


def _modules_built_from(spec) -> set[str]:
    """The modules of monitor/frames/ its builder imports."""
    return set(re.findall(r"from cxgm_pipeline\.monitor\.frames\.(\w+) import", inspect.getsource(spec.build)))


def test_the_readme_table_of_frames_is_the_declaration():
    table = _readme_table("### One attempt's frames")
    assert [row[0].strip("`") for row in table] == list(FRAMES), "README: the frames' table lags the declaration"
    for row, spec in zip(table, CHAIN):
        frame, built_in, inputs, incremental, reads_aws, view = row
        module = built_in.strip("`").removesuffix(".py")
        assert (FRAMES_DIR / f"{module}.py").exists(), f"README: {spec.name} built in {built_in}, no such module"
        assert module in _modules_built_from(spec), f"README: {spec.name} is not built from {built_in}"
        assert inputs == ", ".join(f"`{i}`" for i in spec.inputs), f"README: {spec.name}'s inputs"
        assert incremental == ("yes" if spec.incremental else ""), f"README: is {spec.name} incremental?"
        assert reads_aws == ("yes" if spec.reads_aws else ""), f"README: does {spec.name} read AWS?"
        assert view == (f"`{spec.view.what}`" if spec.view else ""), f"README: {spec.name}'s `cxgm describe` view"


@pytest.mark.parametrize("name", FRAMES)
def test_the_readme_says_what_each_frame_holds(name):
    assert f"| `{name}` |" in README.read_text().split("### One attempt's frames")[0], \
        f"README: {name} has no row in the asset chain's table (one row per, what it adds)"
