"""The reports tree's layout: run folders, their files and links, the shared pages."""

import os
from pathlib import Path

import pytest

from workbench.core.runfolder import ReportsTree, RunFolder, notebook_name
from workbench.errors import WorkbenchError


def test_run_folder_names_its_files_and_refuses_escaping_names(tmp_path: Path):
    folder = RunFolder.of(tmp_path / "reports", "notebooks/my notebook.ipynb", "20260101T000000000Z-abc123")
    assert folder.path == tmp_path / "reports" / f"my-notebook-{_h('my notebook')}" / "20260101T000000000Z-abc123"
    assert (folder.report.name, folder.notebook.name, folder.record.name, folder.curves.name, folder.artifacts.name) \
        == ("report.html", "notebook.ipynb", "run.json", "curves.json", "artifacts")
    assert folder.run_id == "20260101T000000000Z-abc123"
    for notebook, run_id in (("..ipynb", "r1"), ("nb.ipynb", ".."), ("nb.ipynb", "a/b"), ("nb.ipynb", ".hidden")):
        with pytest.raises(WorkbenchError, match="not usable as a folder name"):
            RunFolder.of(tmp_path, notebook, run_id)
    assert notebook_name("a b#c.ipynb") == f"a-b-c-{_h('a b#c')}" and notebook_name("x/nb_1.v2.ipynb") == "nb_1.v2"
    folder.create()
    assert folder.artifacts.is_dir()
    with pytest.raises(FileExistsError):
        folder.create()  # a run never writes into an existing folder


def _h(stem: str) -> str:
    import hashlib

    return hashlib.sha256(stem.encode()).hexdigest()[:8]


def test_notebooks_whose_names_differ_only_in_odd_characters_get_their_own_folders(tmp_path: Path):
    tree = ReportsTree(tmp_path / "reports")
    double, single = tree.run('a"q.ipynb', "r1"), tree.run("a'q.ipynb", "r1")
    assert double.path != single.path and tree.latest(double) != tree.latest(single)
    assert double.path.parent.name.startswith("a-q-") and tree.run("a q.ipynb", "r1").path != double.path


def test_links_are_relative_and_url_encoded(tmp_path: Path):
    tree = ReportsTree(tmp_path / "reports")
    run = RunFolder(tree.root / "odd #1 100%" / "r1")
    assert run.links(tree.root) == {"report": "odd%20%231%20100%25/r1/report.html",
                                    "notebook": "odd%20%231%20100%25/r1/notebook.ipynb",
                                    "record": "odd%20%231%20100%25/r1/run.json"}
    assert run.links(tree.sweep_page("sweep-1").parent)["report"] == "../../odd%20%231%20100%25/r1/report.html"


def test_link_from_hard_links_every_visible_file(tmp_path: Path):
    earlier = RunFolder(tmp_path / "nb" / "r1")
    (earlier.artifacts / "model").mkdir(parents=True)
    earlier.report.write_text("report")
    (earlier.artifacts / "model" / "w.bin").write_bytes(b"\0\1")
    (earlier.path / ".run.json.tmp").write_text("half-written")
    later = RunFolder(tmp_path / "nb" / "r2")
    later.link_from(earlier)
    assert later.report.read_text() == "report"
    assert os.stat(later.report).st_ino == os.stat(earlier.report).st_ino, "a hard link, not a copy"
    assert (later.artifacts / "model" / "w.bin").read_bytes() == b"\0\1"
    assert not (later.path / ".run.json.tmp").exists()


def test_reports_tree_names_its_pages_and_lists_records(tmp_path: Path):
    tree = ReportsTree(tmp_path / "reports")
    assert tree.index == tree.root / "index.html"
    assert tree.sweep_page("sweep-1") == tree.root / "sweeps" / "sweep-1" / "compare.html"
    with pytest.raises(WorkbenchError, match="sweep id '../x' is not usable"):
        tree.sweep_page("../x")
    run = tree.run("a.ipynb", "r1")
    assert tree.latest(run) == tree.root / "a" / "latest.html"
    for nb in ("a", "b"):
        tree.run(f"{nb}.ipynb", "r1").create()
        tree.run(f"{nb}.ipynb", "r1").record.write_text("{}")
    assert sorted(p.parent.parent.name for p in tree.records()) == ["a", "b"]
    assert [p.parent.parent.name for p in tree.records("notebooks/b.ipynb")] == ["b"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkbenchError, match="reports folder .* is a file"):
        ReportsTree(tmp_path / "file").check()
    with tree.lock():
        assert (tree.root / ".index.lock").exists()
