"""A model version's registration diff: the path the checkout holds the model at is no change
(another clone sharing the workspace has its own), its content, name, version or store path is."""

from __future__ import annotations

from modelpack.providers.model_version import ModelVersionProvider

OLDS = {
    "name": "small",
    "version": "1",
    "content_hash": "abc",
    "source": "/home/a/repo/assets/model",
    "path": "/srv/state/models/small/1",
    "type": "custom_model",
}


def test_another_clones_source_path_is_no_change() -> None:
    news = {**OLDS, "source": "/home/b/repo/assets/model"}
    diff = ModelVersionProvider().diff("small:1:x", OLDS, news)
    assert (diff.changes, diff.replaces) == (False, [])


def test_new_content_replaces_and_a_new_type_updates() -> None:
    news = {**OLDS, "source": "/home/b/repo/assets/model", "content_hash": "def"}
    diff = ModelVersionProvider().diff("small:1:x", OLDS, news)
    assert (diff.changes, diff.replaces) == (True, ["content_hash"])
    diff = ModelVersionProvider().diff("small:1:x", OLDS, {**OLDS, "type": "mlflow_model"})
    assert (diff.changes, diff.replaces) == (True, [])
