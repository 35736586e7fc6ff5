"""dev -> prod promotion end to end: `promote` copies the package by digest into prod's
registry and records it in prod's config; prod's `up` then deploys that digest without
building anything, and serves the same answers from the same image."""

from __future__ import annotations

import json
import time

import docker
import pytest

from modelpack.cli.endpoints import invoke
from modelpack.cli.errors import CliError
from modelpack.cli.promote import PROMOTED_KEY, promote
from modelpack.image_registry import manifest_exists, parse_reference
from tests.support.deployed import DeployedWorkspace, deployed_workspace, image_tags
from tests.support.project import PORTABLE_PACKAGE, copy_portable_assets

pytestmark = pytest.mark.real

BUILT = ("pulumi-python:dynamic/docker:Image", "pulumi-python:dynamic/registry:ModelVersion")


def built_steps(preview: dict) -> list[str]:
    """URNs of the image builds and model registrations a preview would perform, except the
    endpoint's router image (infrastructure, not a package)."""
    return [
        step["urn"]
        for step in preview["steps"]
        if step["op"] in ("create", "replace", "create-replacement")
        and any(f"::{kind}::" in step["urn"] or step["urn"].endswith(kind) for kind in BUILT)
        and "router-image" not in step["urn"]
    ]


def test_promote_dev_to_prod_deploys_the_same_digest(
    portable_dev: DeployedWorkspace, tmp_path
) -> None:
    dev = portable_dev
    dev_package = dev.outputs()["packages"][PORTABLE_PACKAGE]
    prod_folder = copy_portable_assets(tmp_path / "prod-workspace")
    with deployed_workspace(tmp_path / "prod", "prod", workspace=prod_folder, up=False) as prod:
        # An unknown package is refused before anything is copied.
        with pytest.raises(CliError, match="no package 'nope'"):
            promote(dev.runner(), prod.runner(), "nope")

        started = time.monotonic()
        done = promote(dev.runner(), prod.runner(), PORTABLE_PACKAGE)
        promote_seconds = time.monotonic() - started
        print(f"promote took {promote_seconds:.1f} s (copy {done.copy_seconds:.1f} s)")

        # The same digest, now in prod's registry, recorded in prod's config.
        source, target = parse_reference(done.source), parse_reference(done.target)
        assert done.source == dev_package["digest"]
        assert target.digest == source.digest
        assert target.port == prod.registry_port
        assert manifest_exists(target.address, target.repository, target.digest)
        config = prod.runner().config()
        assert config[PROMOTED_KEY]["objectValue"] == {PORTABLE_PACKAGE: done.target}

        # prod's up builds nothing: no package or environment image, no model registration.
        preview = prod.preview()
        assert built_steps(preview) == []
        assert any(step["urn"].endswith("-promoted") for step in preview["steps"])
        prod.up()
        client = docker.from_env()
        tags = image_tags()
        assert [t for t in tags if t.startswith(f"modelpack/{prod.name}/")] == [
            t for t in tags if t.startswith(f"modelpack/{prod.name}/router:")
        ]

        # prod's replicas run the same image, by the same digest, from prod's registry.
        prod_package = prod.outputs()["packages"][PORTABLE_PACKAGE]
        assert prod_package["promoted"] is True
        assert prod_package["digest"] == done.target
        assert prod_package["hashes"]["code"] == dev_package["hashes"]["code"]
        for deployment in ("blue", "green"):
            in_dev, in_prod = dev.replica(deployment), prod.replica(deployment)
            assert in_prod.attrs["Config"]["Image"] == done.target
            assert in_dev.attrs["Config"]["Image"] == done.source
            assert in_prod.attrs["Image"] == in_dev.attrs["Image"]  # one image id
        repo_digests = client.images.get(done.target).attrs["RepoDigests"]
        assert done.source in repo_digests and done.target in repo_digests

        body = (prod.workspace / "sample-request.json").read_bytes()
        answers = [invoke(ws.endpoint(), body, ws.name, deployment="blue") for ws in (dev, prod)]
        assert all(answer.status == 200 for answer in answers), [a.body for a in answers]
        assert json.loads(answers[0].body) == json.loads(answers[1].body)

        # Nothing left to do: a second up of prod changes nothing.
        prod.stack.run("preview", "--expect-no-changes")
    # prod destroyed: its pull reference is gone, dev's image and digest are intact.
    image = client.images.get(done.source)
    assert done.target not in image.attrs["RepoDigests"]
    assert dev.replica("blue").status == "running"
