"""Human-readable rendering of trace answers (``c2c trace`` without ``--json``). Pure."""

from __future__ import annotations

from typing import Any

from c2c_core.builds import author_line
from c2c_dagster.traceability.trace import TraceAnswer


def _commit_lines(build: dict[str, Any] | None, commit_ids: list[str]) -> list[str]:
    commits = {c["commit_id"]: c for c in (build or {}).get("commits") or []}
    lines = []
    for commit_id in commit_ids:
        commit = commits.get(commit_id, {})
        subject = (commit.get("message") or "").splitlines()[0] if commit.get("message") else ""
        author = author_line(commit.get("author", ""), commit.get("email", "")) if commit else ""
        lines.append(f"{commit_id[:12]}  {subject}  {author}".rstrip())
    return lines


def _replicas(record: dict[str, Any]) -> str | None:
    replicas = record.get("replicas") or {}
    if not replicas:
        return None
    text = ", ".join(f"{replicas[k]} {k}" for k in ("desired", "ready", "available", "updated") if k in replicas)
    strategy = record.get("strategy") or {}
    if strategy.get("type"):
        knobs = ", ".join(f"{k} {strategy[k]}" for k in ("maxSurge", "maxUnavailable") if strategy.get(k) is not None)
        text += f"; strategy {strategy['type']}" + (f" ({knobs})" if knobs else "")
    return text


def render_record(record: dict[str, Any], builds: dict[str, dict[str, Any]]) -> list[str]:
    build = builds.get(record.get("build_id") or "")
    if record.get("digest_state") == "pending":
        digest = f"pending: not reported by the runtime yet ({record.get('pending_reason') or 'no container status'})"
    else:
        digest = f"{record.get('image_digest') or 'unknown'}  (matched by {record['match_key']}: {record['match_confidence']})"
    rows: list[tuple[str, str | None]] = [
        ("image", record.get("image") + ("  (external)" if record.get("image_class") == "external" else "")
         if record.get("image") else None),
        ("digest", digest),
        # The registry's revision label: all that ties an image no build produced to a commit.
        ("revision", record.get("image_revision") if not record.get("build_id") else None),
        ("tag seen", ", ".join(record["tag_digests"]) if record.get("tag_digests") else None),
        ("build", " ".join(filter(None, [record.get("build_id"), record.get("build_status"), record.get("build_url")])) or "none"),
        ("tag built", record.get("built_image_tag")),
        ("released", record.get("first_seen")),
        ("replicas", _replicas(record)),
        ("pods", ", ".join(f"{p['name']} @ {p.get('nodeName') or '?'}" for p in record.get("pods") or []) or None),
        ("argocd", f"{record['argocd_app']}  config revision {record.get('argocd_revision') or '?'}" if record.get("argocd_app") else None),
        ("authors", ", ".join(record.get("authors") or []) or None),
        ("flags", ", ".join(record.get("flags") or []) or "none"),
    ]
    lines = [f"{record['cluster']}/{record['namespace']} {record['workload_kind']}/{record['workload_name']}  container {record['container_name']}"]
    lines += [f"  {label:<10}{value}" for label, value in rows if value]
    for i, commit in enumerate(_commit_lines(build, record.get("commit_ids") or [])):
        lines.append(f"  {'commits' if i == 0 else '':<10}{commit}")
    return lines


def render(answer: TraceAnswer) -> str:
    builds = {b["build_id"]: b for b in answer.builds}
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
            out.append(f"  {build['build_id']}  {build.get('build_status')}  {build.get('image_name')}:{build.get('image_tag')}  "
                       f"{build.get('image_digest') or 'digest unknown'}")
    return "\n".join(out).rstrip() + "\n"
