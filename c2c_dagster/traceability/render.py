"""Human-readable rendering of trace answers (``c2c trace`` without ``--json``). Pure."""

from __future__ import annotations

from c2c_dagster.documents.builds import BuildDocument
from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.traceability.trace import TraceAnswer


def _commit_lines(build: BuildDocument | None, commit_ids: list[str]) -> list[str]:
    commits = {c.commit_id: c for c in build.commits} if build else {}
    lines = []
    for commit_id in commit_ids:
        commit = commits.get(commit_id)
        subject = commit.message.splitlines()[0] if commit and commit.message else ""
        author = commit.author_line if commit else ""
        lines.append(f"{commit_id[:12]}  {subject}  {author}".rstrip())
    return lines


def _replicas(record: TraceabilityRecord) -> str | None:
    replicas = record.replicas
    if replicas is None:
        return None
    text = ", ".join(f"{getattr(replicas, k)} {k}" for k in ("desired", "ready", "available", "updated")
                     if getattr(replicas, k) is not None)
    strategy = record.strategy or {}
    if strategy.get("type"):
        knobs = ", ".join(f"{k} {strategy[k]}" for k in ("maxSurge", "maxUnavailable") if strategy.get(k) is not None)
        text += f"; strategy {strategy['type']}" + (f" ({knobs})" if knobs else "")
    return text


def _provenance(record: TraceabilityRecord) -> str | None:
    """``verified (builder …, commit …)``, ``unsigned``, ``invalid: <reason>``; None when not checked."""
    if not record.provenance:
        return None
    if record.provenance == "verified":
        detail = ", ".join(filter(None, [f"builder {record.provenance_builder}" if record.provenance_builder else None,
                                         f"commit {record.provenance_commit[:12]}" if record.provenance_commit else None,
                                         f"key {record.provenance_key[:19]}" if record.provenance_key else None]))
        return f"verified ({detail})" if detail else "verified"
    return f"{record.provenance}: {record.provenance_reason}" if record.provenance_reason else record.provenance


def render_record(record: TraceabilityRecord, builds: dict[str, BuildDocument]) -> list[str]:
    build = builds.get(record.build_id or "")
    if record.digest_state == "pending":
        digest = f"pending: not reported by the runtime yet ({record.pending_reason or 'no container status'})"
    else:
        digest = f"{record.image_digest or 'unknown'}  (matched by {record.match_key}: {record.match_confidence})"
    rows: list[tuple[str, str | None]] = [
        ("image", record.image + ("  (external)" if record.image_class == "external" else "") if record.image else None),
        ("digest", digest),
        # The registry's revision label: all that ties an image no build produced to a commit.
        ("revision", record.image_revision if not record.build_id else None),
        ("tag seen", ", ".join(record.tag_digests) if record.tag_digests else None),
        ("build", " ".join(filter(None, [record.build_id, record.build_status, record.build_url])) or "none"),
        ("tag built", record.built_image_tag),
        ("released", record.first_seen),
        ("replicas", _replicas(record)),
        ("pods", ", ".join(f"{p.name} @ {p.nodeName or '?'}" for p in record.pods) or None),
        ("argocd", f"{record.argocd_app}  config revision {record.argocd_revision or '?'}" if record.argocd_app else None),
        ("authors", ", ".join(record.authors) or None),
        ("provenance", _provenance(record)),
        ("flags", ", ".join(record.flags) or "none"),
    ]
    lines = [f"{record.cluster}/{record.namespace} {record.workload_kind}/{record.workload_name}  container {record.container_name}"]
    lines += [f"  {label:<{max(10, len(label) + 1)}}{value}" for label, value in rows if value]
    for i, commit in enumerate(_commit_lines(build, record.commit_ids)):
        lines.append(f"  {'commits' if i == 0 else '':<10}{commit}")
    return lines


def render(answer: TraceAnswer) -> str:
    builds = {b.build_id: b for b in answer.builds}
    out: list[str] = []
    if answer.running:
        out.append("Running now:")
        for record in answer.running:
            out += render_record(record, builds) + [""]
    if answer.previously:
        out.append("Ran before:")
        for record in answer.previously:
            out += render_record(record, builds) + [""]
    if answer.builds and not (answer.running or answer.previously):
        out.append("Built, but not seen running:")
        for build in answer.builds:
            out.append(f"  {build.build_id}  {build.build_status}  {build.image_name}:{build.image_tag}  "
                       f"{build.image_digest or 'digest unknown'}")
    return "\n".join(out).rstrip() + "\n"
