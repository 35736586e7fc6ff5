"""Checks of `modelpack:promoted` before anything is declared (no Pulumi engine needed)."""

from __future__ import annotations

import pytest

from components.promotion import PromotionError, check_promotions, promotion_problems
from modelpack.assets import load_asset_folder
from tests.support.project import copy_example_assets

COPY = "sklearn-regression-docker-pkg"
MOUNT = "sklearn-regression-online-pkg"
DIGEST = "sha256:" + "d" * 64


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory):
    folder = copy_example_assets(tmp_path_factory.mktemp("promotion") / "workspace")
    return load_asset_folder(folder).packages


def test_copy_package_in_this_registry_is_accepted(packages) -> None:
    promoted = {COPY: f"127.0.0.1:28500/{COPY}@{DIGEST}"}
    assert promotion_problems(packages, promoted, 28500) == ([], [])


def test_readonly_mount_is_refused_as_not_portable(packages) -> None:
    with pytest.raises(PromotionError, match=f"'{MOUNT}' is readonly_mount.*not portable"):
        check_promotions(packages, {MOUNT: f"127.0.0.1:28500/{MOUNT}@{DIGEST}"}, 28500)


def test_reference_must_be_a_digest_in_this_workspaces_registry(packages) -> None:
    errors, _ = promotion_problems(packages, {COPY: f"127.0.0.1:18500/{COPY}@{DIGEST}"}, 28500)
    assert "is not in this workspace's registry (127.0.0.1:28500)" in errors[0]
    errors, _ = promotion_problems(packages, {COPY: f"{COPY}:latest"}, 28500)
    assert "not a digest reference" in errors[0]
    errors, _ = promotion_problems(packages, {COPY: f"127.0.0.1:28500/{COPY}@{DIGEST}"}, 0)
    assert "fixed modelpack:registryPort" in errors[0]


def test_unknown_package_is_a_warning(packages) -> None:
    errors, warnings = promotion_problems(packages, {"gone": "x"}, 28500)
    assert errors == [] and "'gone'" in warnings[0]
