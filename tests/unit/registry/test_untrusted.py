"""A registry folder is shared and untrusted: links out of it, damaged or oversized files, torn log lines."""

from __future__ import annotations

import json
import os
import shutil

import pytest

import workbench
from workbench.errors import ModelError
from workbench.registry import ModelRegistry


def _writable(path) -> None:
    for root, _dirs, files in os.walk(path):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)


def test_a_version_folder_linked_out_of_the_registry_is_refused(reg, models, tmp_path):
    reg.register("churn", models["a"])
    reg.register("churn", models["b"], alias="champion")
    outside = tmp_path / "outside"
    shutil.copytree(reg.root / "churn" / "versions" / "2", outside)  # a whole, valid-looking version
    _writable(reg.root / "churn" / "versions" / "2")
    shutil.rmtree(reg.root / "churn" / "versions" / "2")
    os.symlink(outside, reg.root / "churn" / "versions" / "2")
    with pytest.raises(ModelError, match=r"churn:2 .*versions/2' is not a real folder \(a symbolic link or a file\)"):
        reg.resolve("churn@champion")
    with pytest.raises(ModelError, match="not a real folder"):
        workbench.load_model("churn:2", registry=reg.root)
    assert reg.version_numbers("churn") == [1]  # listing skips it


def test_a_model_folder_or_name_linked_out_is_refused(reg, models, tmp_path):
    v = reg.register("churn", models["a"])
    _writable(v.folder.parent)
    shutil.rmtree(v.folder)
    os.symlink(models["b"], v.folder)
    with pytest.raises(ModelError, match="churn:1's model .*versions/1/model' is not a real folder"):
        reg.load("churn:1")
    shared = tmp_path / "elsewhere"
    ModelRegistry(shared).register("evil", models["a"])
    os.symlink(shared / "evil", reg.root / "evil")
    assert reg.names() == ["churn"]
    with pytest.raises(ModelError, match=r"model 'evil': .*registry/evil' is not a real folder"):
        reg.resolve("evil:1")
    with pytest.raises(ModelError, match="not a real folder"):
        reg.set_alias("evil", "champion", 1)


def test_a_model_file_linked_out_is_refused(reg, models, tmp_path):
    v = reg.register("churn", models["a"])
    skops = v.folder / "model.skops"
    _writable(v.folder)
    copy = tmp_path / "model.skops"
    shutil.copy(skops, copy)
    skops.unlink()
    os.symlink(copy, skops)  # same bytes, same hash, but a link
    with pytest.raises(ModelError, match="model.skops' is not a regular file"):
        reg.load("churn:1")


def test_registry_files_are_read_without_following_links_and_with_limits(reg, models, tmp_path):
    reg.register("churn", models["a"], alias="champion")
    aliases = reg.root / "churn" / "aliases.json"
    target = tmp_path / "aliases.json"
    target.write_text(json.dumps({"aliases": {"champion": 1}}))
    aliases.unlink()
    os.symlink(target, aliases)
    with pytest.raises(ModelError, match="aliases.json' .*a registry file must be a regular file"):
        reg.resolve("churn@champion")
    aliases.unlink()
    aliases.write_text(json.dumps({"aliases": {"champion": 1}, "pad": "x" * (1 << 20)}))
    with pytest.raises(ModelError, match="aliases.json' is not a regular file of at most 1024 KiB"):
        reg.resolve("churn@champion")
    aliases.write_text(json.dumps({"aliases": {"champion": "../../etc"}}))
    with pytest.raises(ModelError, match="alias 'champion' points at '../../etc', not a version number"):
        reg.resolve("churn@champion")
    aliases.write_text("{not json")
    with pytest.raises(ModelError, match="aliases.json' is not valid JSON"):
        reg.aliases("churn")


def test_a_damaged_version_record_is_refused(reg, models):
    v = reg.register("churn", models["a"])
    record_path = v.folder.parent / "version.json"
    record = json.loads(record_path.read_text())
    os.chmod(record_path, 0o644)
    record_path.write_text(json.dumps({**record, "files": {**record["files"], "model.skops": "0" * 64}}))
    with pytest.raises(ModelError, match="version.json: its digest does not match its files"):
        reg.resolve("churn:1")
    record_path.write_text(json.dumps({**record, "version": 2}))
    with pytest.raises(ModelError, match="version.json does not describe churn:1"):
        reg.resolve("churn:1")
    record_path.write_text(json.dumps({**record, "source": "x"}))
    with pytest.raises(ModelError, match="field 'source' must be dict, got str"):
        reg.resolve("churn:1")


def test_a_torn_audit_line_is_skipped_and_the_next_entry_stays_whole(reg, models):
    reg.register("churn", models["a"], alias="champion")
    log = reg.root / "churn" / "audit.jsonl"
    with open(log, "ab") as f:
        f.write(b'{"ts": "2024-01-01T00:00:00Z", "action": "se')  # a crash mid-line
    reg.register("churn", models["b"])
    reg.set_alias("churn", "champion", 2)
    assert [(e["action"], e["to"]) for e in reg.history("churn")] == [("register", 1), ("set", 1), ("register", 2),
                                                                      ("set", 2)]
    with open(log, "ab") as f:
        f.write(b'{"pad": "' + b"x" * 70000 + b'"}\n' + b'["not", "an", "entry"]\n')
    reg.set_alias("churn", "champion", 1)
    assert [e["to"] for e in reg.history("churn", "champion")] == [1, 2, 1]
    assert reg.rollback("churn", "champion")["to"] == 2
