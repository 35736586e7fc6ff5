"""A Markdown summary of `pulumi preview --diff --json` for a pull-request comment.

Pure: parses the JSON that `pulumi preview --json` prints (`steps[].op`, `urn`,
`oldState.inputs` / `newState.inputs`, `replaceReasons` / `diffReasons`, `changeSummary`,
`diagnostics`) and renders

- how many resources each operation touches (create, update, replace, delete, unchanged) and a
  table of the changed ones with why;
- for each package whose image changes, what changed inside it (code, model, environment,
  server: the `hashes` input of its image, old against new), or which digest a promoted package
  moves to;
- for each deployment: new, removed, or replicas replaced;
- for each endpoint whose traffic changes, the traffic (and mirror traffic) before and after.

Preview JSON shows only changed steps (plus the stack); unchanged resources are counted from
`changeSummary`. `modelpack preview-summary` runs the preview and writes this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelpack import names

MARKER = "<!-- modelpack-preview:{workspace} -->"
OPERATIONS = ("create", "update", "replace", "delete", "same")
_OP_GROUPS = {
    "create": "create",
    "update": "update",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "discard-replaced": "replace",
    "delete": "delete",
    "discard": "delete",
    "same": "same",
}
_HIDDEN_INPUTS = {"__provider"}
HASH_KEYS = ("code", "model", "environment", "server", "model_version")
SHORT = 12
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Step:
    op: str
    """create, update, replace, delete, same, or pulumi's own name for anything else."""
    urn: str
    type: str
    name: str
    parent_type: str | None
    parent_name: str | None
    old: dict[str, Any]
    new: dict[str, Any]
    reasons: tuple[str, ...]

    @property
    def kind(self) -> str:
        """`docker:Image` for a dynamic resource, `Deployment` for a component of ours."""
        return short_type(self.type)

    @property
    def inputs(self) -> dict[str, Any]:
        """The new inputs, or the old ones for a delete."""
        return self.new or self.old


@dataclass
class PreviewSummary:
    workspace: str
    counts: dict[str, int]
    steps: list[Step]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[Step]:
        return [step for step in self.steps if step.op != "same" and step.type != STACK_TYPE]

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def short_type(type_token: str) -> str:
    if type_token.startswith("pulumi-python:dynamic/"):
        return type_token.removeprefix("pulumi-python:dynamic/")
    if type_token.startswith(names.TOKEN_PREFIX):
        return type_token.removeprefix(names.TOKEN_PREFIX)
    return type_token


def _urn_parts(urn: str) -> tuple[str, str]:
    """(type, name) of a URN `urn:pulumi:<stack>::<project>::<parent$...$type>::<name>`."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "", urn
    return parts[2].rsplit("$", 1)[-1], "::".join(parts[3:])


def _step(raw: dict[str, Any]) -> Step:
    old_state = raw.get("oldState") or {}
    new_state = raw.get("newState") or {}
    state = new_state or old_state
    urn = raw.get("urn") or state.get("urn", "")
    type_token, name = _urn_parts(urn)
    parent = state.get("parent")
    parent_type, parent_name = _urn_parts(parent) if parent else (None, None)
    reasons = raw.get("replaceReasons") or raw.get("diffReasons") or []
    return Step(
        op=_OP_GROUPS.get(str(raw.get("op")), str(raw.get("op"))),
        urn=urn,
        type=state.get("type") or type_token,
        name=name,
        parent_type=parent_type,
        parent_name=parent_name,
        old=dict(old_state.get("inputs") or {}),
        new=dict(new_state.get("inputs") or {}),
        reasons=tuple(str(reason) for reason in reasons),
    )


def _merge_replacements(steps: list[Step]) -> list[Step]:
    """One step per URN: `up --json` may give create-replacement, replace and delete-replaced."""
    merged: dict[str, Step] = {}
    for step in steps:
        previous = merged.get(step.urn)
        if previous is None:
            merged[step.urn] = step
        else:
            merged[step.urn] = Step(
                op=step.op,
                urn=step.urn,
                type=step.type,
                name=step.name,
                parent_type=step.parent_type,
                parent_name=step.parent_name,
                old=previous.old or step.old,
                new=step.new or previous.new,
                reasons=previous.reasons or step.reasons,
            )
    return list(merged.values())


def _noise(message: str) -> bool:
    return "using pulumi-" in message and "from $PATH" in message


def parse_preview(document: dict[str, Any], workspace: str) -> PreviewSummary:
    """Read `pulumi preview --json` output."""
    steps = _merge_replacements([_step(raw) for raw in document.get("steps") or []])
    counts = dict.fromkeys(OPERATIONS, 0)
    summary = document.get("changeSummary")
    if summary:
        for op, count in summary.items():
            group = _OP_GROUPS.get(op, op)
            counts[group] = counts.get(group, 0) + int(count)
    else:
        for step in steps:
            counts[step.op] = counts.get(step.op, 0) + 1
    errors, warnings = [], []
    for diagnostic in document.get("diagnostics") or []:
        message = str(diagnostic.get("message", "")).strip()
        if not message or _noise(message):
            continue
        severity = diagnostic.get("severity")
        if severity == "error":
            # The program's own error, then pulumi's "unhandled error" repeating it.
            message = message.removeprefix("error: ").removeprefix("an unhandled error occurred: ")
            if message not in errors:
                errors.append(message)
        elif severity == "warning" and diagnostic.get("urn"):
            warnings.append(message)
    return PreviewSummary(workspace, counts, steps, errors, warnings)


# --- what changed ------------------------------------------------------------------------------


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Input keys whose value differs (a `hashes` change is named per hash: `hashes.code`)."""
    keys = []
    for key in sorted(set(old) | set(new)):
        if key in _HIDDEN_INPUTS or old.get(key) == new.get(key):
            continue
        keys.append(key)
        if key == "hashes" and isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            keys += [f"hashes.{name}" for name in changed_keys(old[key], new[key])]
    return keys


def why(step: Step) -> str:
    if step.op == "create":
        return "new"
    if step.op == "delete":
        return "removed"
    reasons = list(step.reasons) or changed_keys(step.old, step.new)
    reasons = [reason for reason in reasons if reason not in _HIDDEN_INPUTS]
    return ", ".join(reasons) or "inputs not shown (secret, or known only during the update)"


def _short(value: Any) -> str:
    text = "—" if value is None else str(value)
    if text.startswith("sha256:"):
        text = text.removeprefix("sha256:")
    return f"`{text[:SHORT]}`" if len(text) >= 32 else f"`{text}`"


def _digest(reference: Any) -> str | None:
    """`sha256:...` of a digest reference (None stays None)."""
    if reference is None:
        return None
    text = str(reference)
    return text.rsplit("@", 1)[-1] if "@" in text else text


@dataclass
class PackageChange:
    package: str
    op: str
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    """(what, before, after): code, model, environment, server, model_version, or digest."""
    promoted: bool = False
    """Deployed from a promoted digest (pulled, not built)."""

    @property
    def verb(self) -> str:
        if self.promoted:
            return {
                "create": "pulled from its promoted digest (no build)",
                "delete": "promoted image removed",
                "replace": "deploys another promoted digest (no build)",
            }.get(self.op, self.op)
        return {
            "create": "built for the first time",
            "delete": "removed",
            "replace": "rebuilt",
            "update": "updated",
        }.get(self.op, self.op)


def package_changes(steps: list[Step]) -> list[PackageChange]:
    """What changes inside each package: from its image's `hashes`, or its promoted digest."""
    found: dict[str, PackageChange] = {}
    for step in steps:
        if step.op == "same" or step.parent_type != names.MODEL_PACKAGE:
            continue
        package = step.parent_name or step.name
        if step.kind == "docker:Image":
            change = found.setdefault(package, PackageChange(package, step.op))
            change.op = step.op
            old, new = step.old.get("hashes") or {}, step.new.get("hashes") or {}
            keys = [key for key in HASH_KEYS if key in old or key in new]
            keys += sorted((set(old) | set(new)) - set(HASH_KEYS))
            for key in keys:
                if step.op in ("create", "delete") or old.get(key) != new.get(key):
                    change.changes.append((key, old.get(key), new.get(key)))
        elif step.kind == "docker:PulledImage":
            change = found.setdefault(package, PackageChange(package, step.op))
            change.op, change.promoted = step.op, True
            before, after = step.old.get("reference"), step.new.get("reference")
            change.changes.append(("promoted digest", _digest(before), _digest(after)))
    return sorted(found.values(), key=lambda change: change.package)


@dataclass
class DeploymentChange:
    name: str
    op: str
    """create (new deployment), delete (removed) or replace (its replicas roll)."""
    resources: list[Step] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)


def _labels(inputs: dict[str, Any]) -> dict[str, str] | None:
    """A resource's labels: a container's own, or a Kubernetes object's metadata.labels."""
    return inputs.get("labels") or (inputs.get("metadata") or {}).get("labels")


def deployment_changes(steps: list[Step]) -> list[DeploymentChange]:
    found: dict[str, DeploymentChange] = {}
    for step in steps:
        if step.op == "same":
            continue
        if step.type == names.DEPLOYMENT:
            change = found.setdefault(step.name, DeploymentChange(step.name, step.op))
            change.op = step.op
            change.resources.append(step)
        elif step.parent_type == names.DEPLOYMENT and step.parent_name:
            change = found.setdefault(
                step.parent_name, DeploymentChange(step.parent_name, "replace")
            )
            change.resources.append(step)
            if step.op not in ("create", "delete"):
                change.reasons.update(why(step).split(", "))
    named = {}
    for change in found.values():
        labels = next(
            (labels for step in change.resources if (labels := _labels(step.inputs))), None
        )
        if labels and labels.get(names.LABEL_ENDPOINT) and labels.get(names.LABEL_DEPLOYMENT):
            change.name = f"{labels['modelpack.endpoint']}/{labels['modelpack.deployment']}"
        named[change.name] = change
    return sorted(named.values(), key=lambda change: change.name)


@dataclass
class TrafficChange:
    endpoint: str
    op: str
    before: dict[str, int]
    after: dict[str, int]
    mirror_before: dict[str, int]
    mirror_after: dict[str, int]

    @property
    def moved(self) -> bool:
        return self.before != self.after or self.mirror_before != self.mirror_after


def traffic_changes(steps: list[Step]) -> list[TrafficChange]:
    """Each endpoint's traffic table before and after (the router configuration's inputs)."""
    found = []
    for step in steps:
        if step.op == "same" or step.kind != "endpoint:Traffic":
            continue

        def table(inputs: dict[str, Any], key: str) -> dict[str, int]:
            return {str(k): int(v) for k, v in (inputs.get(key) or {}).items()}

        found.append(
            TrafficChange(
                endpoint=str(step.inputs.get("endpoint") or step.parent_name or step.name),
                op=step.op,
                before=table(step.old, "traffic"),
                after=table(step.new, "traffic"),
                mirror_before=table(step.old, "mirror_traffic"),
                mirror_after=table(step.new, "mirror_traffic"),
            )
        )
    return sorted(found, key=lambda change: change.endpoint)


# --- Markdown ----------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _percent(table: dict[str, int], name: str) -> str:
    return f"{table[name]}%" if name in table else "—"


def _traffic_table(title: str, before: dict[str, int], after: dict[str, int]) -> list[str]:
    lines = [f"| {title} | before | after |", "|---|---:|---:|"]
    for name in sorted(set(before) | set(after)):
        marker = " **(changed)**" if before.get(name) != after.get(name) else ""
        lines.append(f"| {name} | {_percent(before, name)} | {_percent(after, name)}{marker} |")
    return lines


def render_markdown(summary: PreviewSummary) -> str:
    counts = summary.counts
    lines = [
        MARKER.format(workspace=summary.workspace),
        f"### `pulumi preview` of workspace `{summary.workspace}`",
        "",
    ]
    if summary.failed:
        lines += ["**The preview failed:**", "", "```"]
        lines += summary.errors
        lines += ["```"]
        return "\n".join(lines) + "\n"
    lines.append(
        f"**{counts.get('create', 0)} to create, {counts.get('update', 0)} to update, "
        f"{counts.get('replace', 0)} to replace, {counts.get('delete', 0)} to delete, "
        f"{counts.get('same', 0)} unchanged**"
    )
    others = {op: n for op, n in counts.items() if op not in OPERATIONS and n}
    if others:
        lines.append(", ".join(f"{n} {op}" for op, n in sorted(others.items())))
    lines.append("")
    changed = summary.changed
    if not changed:
        lines.append("No changes.")
        return "\n".join(lines) + "\n"

    lines += ["| operation | resource | kind | in | why |", "|---|---|---|---|---|"]
    for step in changed:
        parent = (
            f"{short_type(step.parent_type or '')} {step.parent_name}" if step.parent_name else ""
        )
        if step.parent_type == STACK_TYPE:
            parent = ""
        lines.append(
            f"| {step.op} | {_cell(step.name)} | {step.kind} | {_cell(parent)} | "
            f"{_cell(why(step))} |"
        )
    lines.append("")

    packages = package_changes(changed)
    if packages:
        lines += ["#### Packages", ""]
        for change in packages:
            lines.append(f"- **{change.package}**: {change.verb}")
            for what, before, after in change.changes:
                if change.op == "create":
                    lines.append(f"  - {what}: {_short(after)}")
                elif change.op == "delete":
                    lines.append(f"  - {what}: was {_short(before)}")
                else:
                    lines.append(f"  - {what} changed: {_short(before)} → {_short(after)}")
        lines.append("")

    deployments = deployment_changes(changed)
    if deployments:
        lines += ["#### Deployments", ""]
        for change in deployments:
            if change.op == "create":
                created = ", ".join(f"{step.kind} `{step.name}`" for step in change.resources)
                lines.append(f"- **{change.name}**: new; creates {created}")
            elif change.op == "delete":
                lines.append(f"- **{change.name}**: removed, with its replicas")
            else:
                reasons = ", ".join(sorted(change.reasons)) or "changed"
                rolls = "replicas roll to the new image" if "image" in change.reasons else ""
                lines.append(f"- **{change.name}**: {rolls or 'replicas replaced'} ({reasons})")
        lines.append("")

    traffic = traffic_changes(changed)
    if traffic:
        lines += ["#### Endpoints", ""]
        for change in traffic:
            if not change.moved and change.op == "update":
                lines.append(
                    f"- **{change.endpoint}**: router reloaded, traffic unchanged "
                    f"({', '.join(f'{k} {v}%' for k, v in sorted(change.after.items()))})"
                )
                continue
            lines += [f"**{change.endpoint}**", ""]
            lines += _traffic_table("traffic", change.before, change.after)
            if change.mirror_before or change.mirror_after:
                lines += [""] + _traffic_table("mirror", change.mirror_before, change.mirror_after)
            lines.append("")

    if summary.warnings:
        lines += ["#### Warnings", ""] + [f"- {_cell(warning)}" for warning in summary.warnings]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def summarize(document: dict[str, Any], workspace: str) -> str:
    return render_markdown(parse_preview(document, workspace))
