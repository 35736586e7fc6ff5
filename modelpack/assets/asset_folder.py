"""Loading a workspace folder: every ``*.yml`` / ``*.yaml`` asset in it (see `asset_files`),
checked and cross-referenced.

``load_asset_folder(folder)`` returns a `AssetFolder` or raises one `AssetFolderError` listing every
problem found (one `SpecError` per line). Files referenced by assets (conda files, code
folders, model folders) may live in sub-folders; they must stay inside the workspace folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .asset_files import owned_files, yaml_files
from .boundary import boundary_for
from .conda import PipRequirements, read_conda_file
from .deployment import ManagedOnlineDeployment
from .endpoint import OnlineEndpoint
from .environment import Environment, InlineEnvironment
from .errors import AssetFolderError, SpecError
from .instance_types import lookup_instance_type
from .kinds import ASSET_MODELS, AssetKind, UnknownSchema, detect_kind
from .links import links_leaving
from .mlflow_env import read_mlflow_environment
from .model import InlineModel, Model
from .package import TARGET_KEYS, ModelPackage
from .references import Reference, parse_reference
from .resolved import DeploymentAsset, EndpointAsset, EnvironmentAsset, ModelAsset, PackageAsset
from .scripts import check_entry_script
from .validation import validate
from .versions import FRESH, AutoVersion, ModelVersions, fresh_model_versions
from .yaml_files import read_yaml

# The code folder keeps its name in the image (/var/azureml-app/<name>), a build destination.
_CODE_FOLDER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(eq=False)
class AssetFolder:
    """Every asset of a workspace folder, resolved.

    `folder` is the folder as given, `root` its absolute path. `packages` holds the written
    packages and the implicit ones of model + code deployments. `skipped` lists the YAML
    files that are not assets (conda files, unrelated YAML).
    """

    folder: Path
    root: Path
    models: list[ModelAsset] = field(default_factory=list)
    environments: list[EnvironmentAsset] = field(default_factory=list)
    packages: list[PackageAsset] = field(default_factory=list)
    endpoints: list[EndpointAsset] = field(default_factory=list)
    deployments: list[DeploymentAsset] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

    def model(self, name: str, version: str | None = None) -> ModelAsset:
        return _pick(self.models, name, version, "model")

    def environment(self, name: str, version: str | None = None) -> EnvironmentAsset:
        return _pick(self.environments, name, version, "environment")

    def package(self, name: str, version: str | None = None) -> PackageAsset:
        return _pick(self.packages, name, version, "package")

    def endpoint(self, name: str) -> EndpointAsset:
        for endpoint in self.endpoints:
            if endpoint.name == name:
                return endpoint
        raise KeyError(f"no endpoint {name!r}")

    def deployments_of(self, endpoint: str) -> list[DeploymentAsset]:
        return [d for d in self.deployments if d.endpoint_name == endpoint]

    def deployment(self, endpoint: str, name: str) -> DeploymentAsset:
        for deployment in self.deployments_of(endpoint):
            if deployment.name == name:
                return deployment
        raise KeyError(f"no deployment {name!r} in endpoint {endpoint!r}")


def load_asset_folder(
    folder: Path | str,
    *,
    root: Path | None = None,
    model_versions: ModelVersions | None = None,
) -> AssetFolder:
    """Load, check and resolve the workspace in `folder`; raises `AssetFolderError`.

    Paths may reach up to `root` (default: the repository holding `folder`, see `boundary`).
    `model_versions` tells which version this workspace gives a model written without one
    (default: version 1, a fresh workspace)."""
    return _Loader(Path(folder), root, model_versions or fresh_model_versions).load()


def _version_key(version: str) -> tuple[tuple[int, Any], ...]:
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.\-_]", version)
    )


def _latest(candidates: list[Any]) -> Any:
    """The latest of same-named assets: an unversioned one (its version is assigned at
    registration, after every written one), else the highest version."""
    unversioned = [c for c in candidates if c.version is None]
    if unversioned:
        return unversioned[0]
    return max(candidates, key=lambda c: _version_key(c.version))


def _pick(assets: Iterable[Any], name: str, version: str | None, what: str) -> Any:
    candidates = [a for a in assets if a.name == name]
    if version is not None:
        candidates = [a for a in candidates if a.version == version]
    if not candidates:
        suffix = f" version {version!r}" if version is not None else ""
        raise KeyError(f"no {what} {name!r}{suffix}")
    return _latest(candidates)


@dataclass
class _Document:
    file: Path  # as shown in errors: folder as given / name
    data: Any
    kind: AssetKind | None = None
    spec: Any = None


class _Loader:
    def __init__(self, folder: Path, root: Path | None, model_versions: ModelVersions) -> None:
        self.folder = folder
        self.root = folder.resolve()
        self.boundary = boundary_for(self.root, root)
        self.model_versions = model_versions
        self.errors: list[SpecError] = []
        self.workspace = AssetFolder(folder=folder, root=self.root)
        # Reference namespaces: the assets that `azureml:` references can name.
        self.models: list[ModelAsset] = []
        self.environments: list[EnvironmentAsset] = []
        self.explicit_packages: list[PackageAsset] = []
        self.deployment_specs: list[ManagedOnlineDeployment] = []
        self.files: list[Path] = []
        # (kind, name) of assets whose file is invalid: references to them are not reported.
        self.broken: set[tuple[AssetKind, str]] = set()
        # An empty asset file could have declared any name: while there is one, references
        # to unknown names are not reported (the empty file is).
        self.empty_file = False

    # -- errors and paths ------------------------------------------------------------

    def error(self, file: Path, field_name: str, message: str) -> None:
        self.errors.append(SpecError(file, field_name, message))

    def shown(self, path: Path) -> Path:
        """`path` (absolute, inside the workspace) as errors show it: the folder as given."""
        try:
            return self.folder / path.relative_to(self.root)
        except ValueError:
            return path

    def local_path(
        self,
        file: Path,
        field_name: str,
        value: str,
        *,
        kind: str,
        what: str,
    ) -> Path | None:
        """Resolve `value` (relative to the YAML file's folder), check it stays inside the
        boundary and is a `kind` ("file", "folder" or "any"); None on error."""
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value) or value.startswith("azureml:"):
            self.error(
                file, field_name, f"must be a local path inside the workspace (got {value!r})"
            )
            return None
        start = (self.root / file.relative_to(self.folder)).parent
        path = (start / value).resolve()
        if not path.is_relative_to(self.boundary.root):
            self.error(file, field_name, f"{value!r} points outside {self.boundary.what}")
            return None
        if not path.exists():
            self.error(file, field_name, f"{what} {value!r} does not exist")
            return None
        if kind == "folder" and not path.is_dir():
            self.error(file, field_name, f"{what} {value!r} is not a folder")
            return None
        if kind == "file" and not path.is_file():
            self.error(file, field_name, f"{what} {value!r} is not a file")
            return None
        return path

    def check_links(self, file: Path, field_name: str, folder: Path, what: str) -> None:
        """A folder copied into the store or an image keeps its links as links: each must stay
        inside the folder (see `spec.links`)."""
        leaving = links_leaving(folder) if folder.is_dir() else []
        if leaving:
            self.error(
                file,
                field_name,
                f"the {what} {self.shown(folder)} holds links that point outside it or are "
                f"absolute: {', '.join(leaving)}; copy the files in, or use relative links to "
                "files inside the folder",
            )

    # -- the steps ----------------------------------------------------------------------

    def load(self) -> AssetFolder:
        if not self.root.is_dir():
            raise AssetFolderError(self.folder, [SpecError(self.folder, "", "is not a folder")])
        documents = self.read_documents()
        by_kind: dict[AssetKind, list[_Document]] = {kind: [] for kind in AssetKind}
        for document in documents:
            if document.kind is not None and document.spec is not None:
                by_kind[document.kind].append(document)

        for document in by_kind[AssetKind.MODEL]:
            self.models.append(self.model_asset(document.spec, document.file, inline=False))
        for document in by_kind[AssetKind.ENVIRONMENT]:
            self.environments.append(
                self.environment_asset(document.spec, document.file, "", inline=False)
            )
        for document in by_kind[AssetKind.PACKAGE]:
            package = self.package_asset(document.spec, document.file)
            if package is not None:
                self.explicit_packages.append(package)
            else:
                self.broken.add((AssetKind.PACKAGE, document.spec.target_environment_name))

        endpoints = [self.endpoint_asset(d.spec, d.file) for d in by_kind[AssetKind.ENDPOINT]]
        self.workspace.endpoints = endpoints
        self.deployment_specs = [d.spec for d in by_kind[AssetKind.DEPLOYMENT]]
        for document in by_kind[AssetKind.DEPLOYMENT]:
            self.deployment_asset(document.spec, document.file)
        self.check_endpoints()

        self.workspace.models = self.models
        self.workspace.environments = self.environments
        self.workspace.packages = self.explicit_packages + [
            d.package for d in self.workspace.deployments if d.package.implicit
        ]
        self.check_duplicates()
        if self.errors:
            # File by file, in listing order; files below the top level last.
            order = {self.shown(path): i for i, path in enumerate(self.files)}
            self.errors.sort(key=lambda e: order.get(e.file, len(order)))
            raise AssetFolderError(self.folder, self.errors)
        return self.workspace

    def read_documents(self) -> list[_Document]:
        self.files = yaml_files(self.root)
        parsed: list[tuple[Path, Any]] = []
        for path in self.files:
            try:
                parsed.append((path, read_yaml(path, self.shown(path))))
            except SpecError as exc:
                parsed.append((path, exc))
        # Files of a model or code folder belong to it, readable or not.
        owned = owned_files([(p, d) for p, d in parsed if not isinstance(d, SpecError)], self.files)
        documents: list[_Document] = []
        for path, data in parsed:
            shown = self.shown(path)
            if path in owned:
                self.workspace.skipped.append(shown)
                continue
            if isinstance(data, SpecError):
                self.errors.append(data)
                self.remember_unreadable(path)
                continue
            if data is None:
                # An emptied endpoint.yml (a failed save, a bad merge) must not read as "delete
                # the endpoint".
                self.error(
                    shown,
                    "",
                    "the file is empty (or only comments): an asset file must hold a YAML "
                    "mapping; delete the file to remove the asset",
                )
                self.empty_file = True
                continue
            document = _Document(shown, data)
            try:
                document.kind = detect_kind(data)
            except UnknownSchema as exc:
                self.error(shown, "$schema", str(exc))
                continue
            documents.append(document)

        referenced = self.referenced_dependency_files(documents)
        for document in documents:
            path = (self.root / document.file.relative_to(self.folder)).resolve()
            if document.kind is None or path in referenced:
                # Not an asset, or a conda / requirements file some asset names: checked there.
                self.workspace.skipped.append(document.file)
                document.kind = None
                continue
            model = ASSET_MODELS[document.kind]
            document.spec, errors = validate(model, document.data, document.file)
            self.errors.extend(errors)
            if errors:
                self.remember_broken(document.kind, document.data)
        return documents

    def remember_unreadable(self, path: Path) -> None:
        """Like `remember_broken` for a file that is not valid YAML: its top-level
        ``name:`` lines are read as text."""
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        keys: dict[str, str] = {}
        for match in re.finditer(
            r"^(name|endpoint_name|target_environment_name|target_environment):"
            r"[ \t]*['\"]?([^'\"#\s]+)",
            text,
            re.MULTILINE,
        ):
            keys.setdefault(match[1], match[2])
        for kind in AssetKind:
            self.remember_broken(kind, keys)

    def remember_broken(self, kind: AssetKind, data: Any) -> None:
        """Note the names an invalid asset file declares, so that references to them are
        not reported a second time as unknown."""
        name = data.get("name")
        if kind is AssetKind.PACKAGE:
            for key in TARGET_KEYS:
                self.broken.add((kind, str(data.get(key))))
            return
        if kind is AssetKind.DEPLOYMENT:
            name = f"{data.get('endpoint_name')}/{name}"
        self.broken.add((kind, str(name)))

    def referenced_dependency_files(self, documents: list[_Document]) -> set[Path]:
        """Absolute paths of files named as ``conda_file`` / ``pip_requirements``."""
        referenced: set[Path] = set()
        for document in documents:
            if not isinstance(document.data, dict):
                continue
            sources = [document.data]
            if isinstance(document.data.get("environment"), dict):
                sources.append(document.data["environment"])
            base = (self.root / document.file.relative_to(self.folder)).parent
            for source in sources:
                for key in ("conda_file", "pip_requirements"):
                    value = source.get(key)
                    if isinstance(value, str):
                        referenced.add((base / value).resolve())
        return referenced

    # -- models ---------------------------------------------------------------------------

    def model_asset(
        self, spec: Model, file: Path, *, inline: bool, prefix: str = "", name: str = ""
    ) -> ModelAsset:
        what = "model path"
        path = self.local_path(file, f"{prefix}path", spec.path, kind="any", what=what)
        if path is not None:
            self.check_links(file, f"{prefix}path", path, "model folder")
        mlflow_environment = None
        if path is not None and spec.type == "mlflow_model":
            if not (path / "MLmodel").is_file():
                self.error(
                    file,
                    f"{prefix}path",
                    f"an mlflow_model folder must contain an MLmodel file ({spec.path!r} has none)",
                )
            else:
                mlflow_environment, errors = read_mlflow_environment(path, self.shown)
                self.errors.extend(errors)
        return ModelAsset(
            name=spec.name or name,
            version=spec.version,
            type=spec.type,
            path=path if path is not None else (self.root / spec.path),
            file=file,
            spec=spec,
            inline=inline,
            mlflow_environment=mlflow_environment,
        )

    # -- environments ---------------------------------------------------------------------

    def environment_asset(
        self, spec: Environment, file: Path, prefix: str, *, inline: bool, name: str = ""
    ) -> EnvironmentAsset:
        conda_path = pip_path = None
        requirements = PipRequirements()
        if spec.conda_file is not None:
            conda_path = self.local_path(
                file, f"{prefix}conda_file", spec.conda_file, kind="file", what="conda file"
            )
            if conda_path is not None:
                requirements = self.read_conda(conda_path) or requirements
        if spec.pip_requirements is not None:
            pip_path = self.local_path(
                file,
                f"{prefix}pip_requirements",
                spec.pip_requirements,
                kind="file",
                what="pip requirements file",
            )
            if pip_path is not None:
                requirements = self.read_pip_requirements(
                    pip_path, file, f"{prefix}pip_requirements"
                )
        return EnvironmentAsset(
            name=spec.name or name,
            version=spec.version,
            image=spec.image,
            file=file,
            spec=spec,
            conda_file=conda_path,
            pip_requirements_file=pip_path,
            requirements=requirements,
            inline=inline,
        )

    def read_conda(self, path: Path) -> PipRequirements | None:
        requirements, errors = read_conda_file(path, self.shown(path))
        self.errors.extend(errors)
        return requirements

    def read_pip_requirements(self, path: Path, file: Path, field_name: str) -> PipRequirements:
        lines: list[str] = []
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = re.sub(r"(^|\s)#.*$", "", raw).strip()
            if not line:
                continue
            if re.match(r"^(-r|--requirement|-c|--constraint|-e|--editable)\b", line):
                self.error(
                    file,
                    field_name,
                    f"{path.name} line {number}: {line!r} refers to other "
                    "files; list the requirements directly",
                )
                continue
            lines.append(line)
        return PipRequirements(requirements=lines)

    # -- references -----------------------------------------------------------------------

    def resolve_model(self, text: str, file: Path, field_name: str) -> ModelAsset | None:
        reference = parse_reference(text)
        if reference.kind not in (None, "model"):
            self.error(file, field_name, f"{text!r} names an environment, not a model")
            return None
        return self.find(self.models, reference, file, field_name, "model")

    def resolve_environment(
        self, text: str, file: Path, field_name: str
    ) -> EnvironmentAsset | PackageAsset | None:
        reference = parse_reference(text)
        if reference.kind not in (None, "environment"):
            self.error(file, field_name, f"{text!r} names a model, not an environment")
            return None
        candidates: list[Any] = [*self.environments, *self.explicit_packages]
        return self.find(candidates, reference, file, field_name, "environment or package")

    def find(
        self, assets: list[Any], reference: Reference, file: Path, field_name: str, what: str
    ) -> Any:
        named = [a for a in assets if a.name == reference.name and not getattr(a, "inline", False)]
        if not named and self.is_broken(reference.name, what):
            return None
        if not named:
            known = sorted({a.name for a in assets if not getattr(a, "inline", False)})
            listed = f" (known: {', '.join(known)})" if known else f" (the workspace has no {what})"
            self.error(file, field_name, f"unknown {what} {reference.name!r}{listed}")
            return None
        if reference.version is None:
            return _latest(named)
        for asset in named:
            if asset.version == reference.version:
                return asset
        written = {a.version for a in named if a.version}
        unversioned = next((a for a in named if a.version is None), None)
        if unversioned is None:
            versions = ", ".join(sorted(written, key=_version_key))
            self.error(
                file,
                field_name,
                f"{what} {reference.name!r} has no version {reference.version!r} "
                f"(versions: {versions})",
            )
            return None
        # Written without a version: Azure numbers it (`azureml:<env>:1` after a first
        # `az ml environment create`); so does this workspace.
        auto = self.auto_version(unversioned)
        if auto.assigned == reference.version:
            return unversioned
        versions = ", ".join(sorted(written | set(auto.known), key=_version_key))
        self.error(
            file,
            field_name,
            f"{what} {reference.name!r} has no version {reference.version!r} to deploy: "
            f"{unversioned.file} gives no version, and this workspace numbers its current "
            f"content {auto.assigned} (versions: {versions}); refer to it as "
            f"azureml:{reference.name}:{auto.assigned} or azureml:{reference.name}@latest",
        )
        return None

    def auto_version(self, asset: Any) -> AutoVersion:
        if isinstance(asset, ModelAsset) and asset.path.exists():
            return self.model_versions(asset)
        return FRESH

    def is_broken(self, name: str, what: str) -> bool:
        kinds = (
            (AssetKind.MODEL,) if what == "model" else (AssetKind.ENVIRONMENT, AssetKind.PACKAGE)
        )
        return self.empty_file or any((kind, name) in self.broken for kind in kinds)

    # -- packages -------------------------------------------------------------------------

    def package_model(self, spec: ModelPackage, file: Path) -> ModelAsset | None:
        if spec.model is not None:
            return self.resolve_model(spec.model, file, "model")
        names = sorted({m.name for m in self.models})
        if len(names) == 1:
            return _latest([m for m in self.models if m.name == names[0]])
        if not names and self.empty_file:
            return None
        if not names:
            self.error(file, "model", "the workspace has no model to package; add a model asset")
        else:
            self.error(
                file,
                "model",
                f"the workspace has several models ({', '.join(names)}); say which one to "
                "package with model: azureml:<name>@latest",
            )
        return None

    def code(
        self, file: Path, prefix: str, code: str, script: str, script_key: str
    ) -> tuple[Path | None, str | None]:
        code_dir = self.local_path(file, f"{prefix}code", code, kind="folder", what="code folder")
        if code_dir is None:
            return None, None
        if not _CODE_FOLDER_NAME.fullmatch(code_dir.name):
            self.error(
                file,
                f"{prefix}code",
                f"the code folder's name {code_dir.name!r} must be letters, digits, '_', '.' "
                "and '-' (it keeps its name inside the image)",
            )
            return None, None
        self.check_links(file, f"{prefix}code", code_dir, "code folder")
        script_field = f"{prefix}{script_key}"
        script_path = (code_dir / script).resolve()
        if not script_path.is_relative_to(code_dir):
            self.error(file, script_field, f"{script!r} points outside the code folder {code!r}")
            return code_dir, None
        if not script_path.is_file():
            self.error(file, script_field, f"entry script {script!r} not found in {code!r}")
            return code_dir, None
        for problem in check_entry_script(script_path, f"{code}/{script}"):
            self.error(file, script_field, problem)
        return code_dir, script_path.relative_to(code_dir).as_posix()

    def package_asset(self, spec: ModelPackage, file: Path) -> PackageAsset | None:
        model = self.package_model(spec, file)
        mlflow = model is not None and model.type == "mlflow_model"
        base = None
        source = spec.base_environment_source
        if source is not None:
            found = self.resolve_environment(
                source.resource_id, file, "base_environment_source.resource_id"
            )
            if isinstance(found, PackageAsset):
                self.error(
                    file,
                    "base_environment_source.resource_id",
                    f"{source.resource_id!r} is a package; a package is built on an environment",
                )
            else:
                base = found
        elif not mlflow:
            self.error(
                file, "base_environment_source", "is required unless the model is an mlflow_model"
            )

        server = spec.inferencing_server
        code_dir = script = None
        if server.type == "azureml_online":
            config = server.code_configuration
            if config is not None:
                code_dir, script = self.code(
                    file,
                    "inferencing_server.code_configuration.",
                    config.code,
                    config.entry_script,
                    config.script_key,
                )
            elif not mlflow:
                self.error(
                    file,
                    "inferencing_server.code_configuration",
                    "is required for azureml_online unless the model is an mlflow_model",
                )
        elif base is None and source is None:
            self.error(
                file,
                "base_environment_source",
                "is required for a custom server (it runs the base environment's image)",
            )
        if model is None:
            return None
        return PackageAsset(
            name=spec.target_environment_name,
            version=spec.target_environment_version,
            file=file,
            model=model,
            base_environment=base,
            server_type=server.type,
            code_dir=code_dir,
            entry_script=script,
            inference_configuration=server.inference_configuration,
            mode=spec.model_configuration.mode,
            mount_path=spec.model_configuration.mount_path,
            environment_variables=dict(spec.environment_variables),
            spec=spec,
        )

    # -- endpoints and deployments --------------------------------------------------------

    def endpoint_asset(self, spec: OnlineEndpoint, file: Path) -> EndpointAsset:
        return EndpointAsset(
            name=spec.name,
            auth_mode=spec.auth_mode,
            traffic=dict(spec.traffic),
            mirror_traffic=dict(spec.mirror_traffic),
            file=file,
            spec=spec,
        )

    def deployment_asset(self, spec: ManagedOnlineDeployment, file: Path) -> None:
        endpoint_names = {e.name for e in self.workspace.endpoints}
        if (
            spec.endpoint_name not in endpoint_names
            and (AssetKind.ENDPOINT, spec.endpoint_name) not in self.broken
            and not self.empty_file
        ):
            known = ", ".join(sorted(endpoint_names)) or "none"
            self.error(
                file, "endpoint_name", f"unknown endpoint {spec.endpoint_name!r} (known: {known})"
            )
        package = (
            self.deployment_package(spec, file)
            if spec.model is None
            else self.deployment_implicit_package(spec, file)
        )
        instance_type = lookup_instance_type(spec.instance_type)
        if package is None or instance_type is None:
            return
        self.workspace.deployments.append(
            DeploymentAsset(
                name=spec.name,
                endpoint_name=spec.endpoint_name,
                package=package,
                instance_type=instance_type,
                instance_count=spec.instance_count,
                request_settings=spec.request_settings,
                liveness_probe=spec.liveness_probe,
                readiness_probe=spec.readiness_probe,
                environment_variables=dict(spec.environment_variables),
                package_model=spec.package_model or not package.implicit,
                file=file,
                spec=spec,
                resources=spec.resources,
            )
        )

    def deployment_package(self, spec: ManagedOnlineDeployment, file: Path) -> PackageAsset | None:
        """A deployment of a written package: ``environment: azureml:<package>@latest``."""
        assert isinstance(spec.environment, str)
        found = self.resolve_environment(spec.environment, file, "environment")
        if isinstance(found, EnvironmentAsset):
            self.error(
                file,
                "environment",
                f"{found.name!r} is an environment, not a package: add model and "
                "code_configuration, or reference a package",
            )
            return None
        return found

    def deployment_implicit_package(
        self, spec: ManagedOnlineDeployment, file: Path
    ) -> PackageAsset | None:
        """A deployment of model + code + environment, assembled into a package."""
        stem = f"{spec.endpoint_name}-{spec.name}"
        model: ModelAsset | None
        if isinstance(spec.model, InlineModel):
            model = self.model_asset(
                spec.model, file, inline=True, prefix="model.", name=f"{stem}-model"
            )
            self.models.append(model)
        else:
            assert isinstance(spec.model, str)
            model = self.resolve_model(spec.model, file, "model")

        environment: EnvironmentAsset | None = None
        if spec.environment is None:
            self.check_model_environment(spec, file, model)
        elif isinstance(spec.environment, InlineEnvironment):
            environment = self.environment_asset(
                spec.environment, file, "environment.", inline=True, name=f"{stem}-env"
            )
            self.environments.append(environment)
        else:
            assert isinstance(spec.environment, str)
            found = self.resolve_environment(spec.environment, file, "environment")
            if isinstance(found, PackageAsset):
                self.error(
                    file,
                    "environment",
                    f"{found.name!r} is a package, which already holds its model and code: "
                    "remove model and code_configuration, or name an environment",
                )
            else:
                environment = found

        code_dir = script = None
        if spec.code_configuration is not None:
            code_dir, script = self.code(
                file,
                "code_configuration.",
                spec.code_configuration.code,
                spec.code_configuration.scoring_script,
                "scoring_script",
            )
        elif model is not None and model.type != "mlflow_model":
            self.error(file, "code_configuration", "is required for a custom_model")

        if model is None:
            return None
        return PackageAsset(
            name=f"{stem}-pkg",
            version=None,
            file=file,
            model=model,
            base_environment=environment,
            server_type="azureml_online",
            code_dir=code_dir,
            entry_script=script,
            inference_configuration=None,
            mode="readonly_mount",
            mount_path=spec.model_mount_path,
            environment_variables={},
            implicit=True,
            deployment=spec.name,
        )

    def check_model_environment(
        self, spec: ManagedOnlineDeployment, file: Path, model: ModelAsset | None
    ) -> None:
        """A deployment without an environment: only an MLflow model, served without scoring
        code, brings its own (as Azure ML builds it from the MLmodel)."""
        if model is None or model.type != "mlflow_model":
            if model is not None:
                self.error(
                    file,
                    "environment",
                    f"is required for the custom_model {model.name!r} (only an mlflow_model "
                    "brings its own environment)",
                )
        elif spec.code_configuration is not None:
            self.error(
                file,
                "environment",
                "is required with code_configuration (an mlflow_model brings its own "
                "environment only when it is served without scoring code)",
            )

    def check_endpoints(self) -> None:
        seen: dict[str, EndpointAsset] = {}
        for endpoint in self.workspace.endpoints:
            if endpoint.name in seen:
                self.error(
                    endpoint.file,
                    "name",
                    f"duplicate endpoint {endpoint.name!r} (also in {seen[endpoint.name].file})",
                )
            seen.setdefault(endpoint.name, endpoint)

        deployments: dict[tuple[str, str], DeploymentAsset] = {}
        for deployment in self.workspace.deployments:
            # The router names its upstreams with '-' and '_' alike.
            key = (deployment.endpoint_name, deployment.name.replace("_", "-"))
            if key in deployments:
                self.error(
                    deployment.file,
                    "name",
                    f"duplicate deployment {deployment.name!r} of endpoint "
                    f"{deployment.endpoint_name!r} (also in {deployments[key].file}; '-' and "
                    "'_' count as the same)",
                )
            deployments.setdefault(key, deployment)

        written = self.written_deployments()
        for endpoint in seen.values():
            names = written.get(endpoint.name, set())
            for table in ("traffic", "mirror_traffic"):
                for name in getattr(endpoint, table):
                    if name not in names and not self.empty_file:
                        known = ", ".join(sorted(names)) or "none"
                        self.error(
                            endpoint.file,
                            f"{table}.{name}",
                            f"endpoint {endpoint.name!r} has no deployment {name!r} "
                            f"(deployments: {known})",
                        )

    def written_deployments(self) -> dict[str, set[str]]:
        """Deployment names per endpoint, including deployments that failed to resolve (so
        that one broken deployment is not also reported as missing from the traffic)."""
        names: dict[str, set[str]] = {}
        for spec in self.deployment_specs:
            names.setdefault(spec.endpoint_name, set()).add(spec.name)
        for kind, key in self.broken:
            if kind is AssetKind.DEPLOYMENT:
                endpoint, _, name = key.partition("/")
                names.setdefault(endpoint, set()).add(name)
        return names

    # -- duplicates -----------------------------------------------------------------------

    def check_duplicates(self) -> None:
        self.duplicates(self.models, "model")
        self.duplicates([*self.environments, *self.workspace.packages], "environment or package")

    def duplicates(self, assets: list[Any], what: str) -> None:
        seen: dict[tuple[str, str | None], Any] = {}
        for asset in assets:
            key = (asset.name, asset.version)
            if key in seen:
                version = f" version {asset.version}" if asset.version else " (unversioned)"
                self.error(
                    asset.file,
                    _name_field(asset),
                    f"duplicate {what} {asset.name!r}{version} (also in {seen[key].file})",
                )
            seen.setdefault(key, asset)


def _name_field(asset: Any) -> str:
    if isinstance(asset, PackageAsset):
        if asset.implicit or asset.spec is None:
            return "name"
        return asset.spec.name_key
    if getattr(asset, "inline", False):
        return "environment.name" if isinstance(asset, EnvironmentAsset) else "model.name"
    return "name"
