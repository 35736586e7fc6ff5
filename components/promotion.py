"""Checks of `modelpack:promoted` (package name -> digest reference), run before any resource
is declared: a package promoted into this workspace is deployed from that digest, pulled from
this workspace's own registry, and never built here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from modelpack.assets import PackageAsset
from modelpack.image_registry import parse_reference


class PromotionError(Exception):
    """`modelpack:promoted` names something this workspace cannot deploy."""


def promotion_problems(
    packages: Iterable[PackageAsset], promoted: Mapping[str, str], registry_port: int
) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the promoted table of a workspace with these packages."""
    errors: list[str] = []
    warnings: list[str] = []
    by_name = {package.name: package for package in packages}
    for name, reference in sorted(promoted.items()):
        package = by_name.get(name)
        if package is None:
            warnings.append(
                f"modelpack:promoted names package {name!r}, which this workspace does not "
                "declare: nothing deploys it"
            )
            continue
        if package.mode != "copy":
            errors.append(
                f"package {name!r} is {package.mode}: its model lives in the source workspace's "
                "model store, so its image is not portable and cannot be promoted; set "
                "model_configuration.mode: copy in its package spec"
            )
            continue
        try:
            parsed = parse_reference(reference)
        except ValueError as error:
            errors.append(f"modelpack:promoted[{name!r}]: {error}")
            continue
        if not registry_port:
            errors.append(
                f"modelpack:promoted[{name!r}]: a workspace that receives promotions needs a "
                "fixed modelpack:registryPort (promote copies into that registry)"
            )
        elif parsed.port != registry_port:
            errors.append(
                f"modelpack:promoted[{name!r}] = {reference} is not in this workspace's registry "
                f"(127.0.0.1:{registry_port}); promote it with `modelpack promote {name} "
                "--from <ws> --to <this ws>`, which copies it here"
            )
    return errors, warnings


def check_promotions(
    packages: Iterable[PackageAsset], promoted: Mapping[str, str], registry_port: int
) -> list[str]:
    """Raise PromotionError listing every error; the warnings otherwise."""
    errors, warnings = promotion_problems(packages, promoted, registry_port)
    if errors:
        raise PromotionError("\n".join(errors))
    return warnings
