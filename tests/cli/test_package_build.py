"""Which resources `model package` targets, from a preview's steps."""

from __future__ import annotations

from modelpack.cli.package_build import package_urn, targets_for

PREFIX = "urn:pulumi:dev::modelpack::"
STACK = PREFIX + "pulumi:pulumi:Stack::modelpack-dev"
PACKAGE = package_urn("dev", "modelpack", "pkg")
IMAGE = PREFIX + "modelpack:index:ModelPackage$pulumi-python:dynamic/docker:Image::pkg-image"
PUSH = PREFIX + "modelpack:index:ModelPackage$pulumi-python:dynamic/docker:Push::pkg-push"
REGISTRY = PREFIX + "pulumi-python:dynamic/registry:Registry::registry"
ENV = PREFIX + "modelpack:index:Environment::env"
ENV_IMAGE = PREFIX + "modelpack:index:Environment$pulumi-python:dynamic/docker:Image::env-image"
OTHER = PREFIX + "modelpack:index:ModelPackage::other"
OTHER_IMAGE = PREFIX + "modelpack:index:ModelPackage$pulumi-python:dynamic/docker:Image::o-image"
DEPLOYMENT = PREFIX + "modelpack:index:Deployment::ep-blue"
PROVIDER = PREFIX + "pulumi:providers:pulumi-python::default"


def step(urn: str, parent: str = STACK, deps: tuple[str, ...] = (), **props: list[str]) -> dict:
    return {
        "op": "create",
        "urn": urn,
        "newState": {
            "urn": urn,
            "parent": parent,
            "dependencies": list(deps),
            "propertyDependencies": props,
        },
    }


def test_the_package_its_children_and_what_they_need_are_targeted() -> None:
    preview = {
        "steps": [
            step(STACK, parent=""),
            step(PROVIDER),
            step(ENV),
            step(ENV_IMAGE, parent=ENV),
            step(REGISTRY),
            step(PACKAGE),
            step(IMAGE, parent=PACKAGE, context=[ENV_IMAGE]),
            step(PUSH, parent=PACKAGE, deps=(IMAGE, REGISTRY)),
            step(OTHER),
            step(OTHER_IMAGE, parent=OTHER, deps=(ENV_IMAGE,)),
            step(DEPLOYMENT, deps=(PUSH,)),
        ]
    }
    assert targets_for(preview, PACKAGE) == sorted([PACKAGE, IMAGE, PUSH, REGISTRY, ENV, ENV_IMAGE])


def test_an_unchanged_package_is_targeted_alone() -> None:
    assert targets_for({"steps": [step(STACK, parent="")]}, PACKAGE) == [PACKAGE]
