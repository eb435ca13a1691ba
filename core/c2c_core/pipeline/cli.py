"""``c2c-build-metadata``: the pipeline step that writes ``build-metadata.json`` (seed 3.2-3.6).

Every option falls back to what Jenkins' git plugin puts in the environment, so a Jenkinsfile step
is one line; other CI systems pass the same values as options. Exit codes: 0 written (or tag
printed), 2 missing or bad input, 3 no digest from any source, 1 anything else.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from c2c_core.builds import branch_name, build_id, safe_tag
from c2c_core.cliargs import ArgumentParser, allow_empty, shown
from c2c_core.images import TAG_RE, ImageReference, InvalidReferenceError, parse_reference
from c2c_core.pipeline.build_metadata import (
    BuildMetadataError,
    DigestResult,
    DigestSourceError,
    GitError,
    assemble_document,
    collect_commits,
    current_branch,
    parse_buildx_metadata,
    parse_digest_file,
    parse_image_name_with_digest,
    parse_kaniko_log,
    remote_url,
    resolve_commit,
    write_json_atomic,
)
from c2c_core.pipeline import provenance
from c2c_core.pipeline.schema import BUILD_STATUSES, schema_errors
from c2c_core.registry.client import RegistryClient, RegistryError
from c2c_core.timeutil import parse_time, utc_now

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_DIGEST = 3
# OpenSearch's limit on a document id: ci_builds stores a build under its build id.
MAX_BUILD_ID_BYTES = 512
MAX_BUILD_NUMBER = 2**31 - 1  # Jenkins numbers builds with a Java int

#: Digest source kinds, by the option that adds them.
DIGEST_FILE = "--digest-file"
IMAGE_NAME_WITH_DIGEST_FILE = "--image-name-with-digest-file"
KANIKO_LOG = "--kaniko-log"
BUILDX_METADATA = "--buildx-metadata"
RESOLVE_DIGEST = "--resolve-digest"


class UsageError(Exception):
    """Missing or invalid input: exit 2 with this message."""


@dataclass(frozen=True)
class DigestSource:
    kind: str  # one of the option names above
    path: Path | None = None

    def describe(self) -> str:
        return f"{self.kind} {self.path}" if self.path else self.kind


class _AddDigestSource(argparse.Action):
    """Appends ``(kind, path)`` to one shared list, so sources are tried in command-line order."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001 - argparse's signature
        sources = list(getattr(namespace, self.dest) or [])
        sources.append(DigestSource(self.const, Path(values) if values else None))
        setattr(namespace, self.dest, sources)


def build_parser() -> argparse.ArgumentParser:
    """Bad arguments are exit 2 and one line (``c2c_core.cliargs``). An empty value is refused,
    except for the options with a Jenkins environment fallback: there it means "not given" (a
    Jenkinsfile passing ``--previous-commit "$GIT_PREVIOUS_SUCCESSFUL_COMMIT"`` on a first build)."""
    parser = ArgumentParser(
        prog="c2c-build-metadata",
        description=(
            "Write the build-metadata JSON (build id, image tag and digest, commits, authors) for c2c. "
            "Options not given are read from the Jenkins environment (named in brackets)."
        ),
        epilog="Exit codes: 0 ok, 2 missing/invalid input, 3 no digest from any source, 1 other errors.",
    )
    parser.add_argument("--repo", default=".", help="the git checkout (default: current directory)")
    parser.add_argument("--image", help="image repository as pushed, without tag, e.g. narendra115c/node-js")
    parser.add_argument("--output", help="where to write the JSON, e.g. build-metadata.json")
    parser.add_argument("--print-tag", action="store_true", help="print the image tag and exit; write nothing")
    parser.add_argument("--tag", help="use this image tag instead of <job>-<build>-<short commit>")

    build = parser.add_argument_group("build (Jenkins environment fallback)")
    allow_empty(build.add_argument("--job-name", help="[JOB_NAME] e.g. Node-JS/master"))
    allow_empty(build.add_argument("--build-number", help="[BUILD_NUMBER]"))
    allow_empty(build.add_argument("--build-url", help="[BUILD_URL]"))
    allow_empty(build.add_argument("--commit", help="the commit built [GIT_COMMIT], default HEAD"))
    allow_empty(build.add_argument("--previous-commit", help="last successful build's commit [GIT_PREVIOUS_SUCCESSFUL_COMMIT]"))
    allow_empty(build.add_argument("--branch", help="[GIT_BRANCH without origin/, BRANCH_NAME], default the checked-out branch"))
    allow_empty(build.add_argument("--repo-url", help="[GIT_URL], default origin's URL; credentials in it are removed"))
    build.add_argument("--status", help=f"build status, one of {', '.join(BUILD_STATUSES)} (default SUCCESS)")

    slsa = parser.add_argument_group(
        "provenance", "SLSA Provenance v1 of the pushed image, unsigned: the pipeline signs it with cosign"
    )
    slsa.add_argument("--provenance", metavar="FILE",
                      help="write the in-toto Statement v1 (subjects: the image, and each platform of an index)")
    slsa.add_argument("--provenance-predicate", metavar="FILE",
                      help="write only its SLSA predicate, for `cosign attest --predicate FILE --type slsaprovenance1`")
    slsa.add_argument("--job-url", help="the builder id: controller and job [JOB_URL], default BUILD_URL without the number")
    slsa.add_argument("--started-on", help="when the build started: ISO 8601 or epoch ms "
                      "(Jenkins: ${currentBuild.startTimeInMillis})")

    digests = parser.add_argument_group(
        "digest sources", "tried in the order given; the first that yields a sha256 digest wins"
    )
    common = {"dest": "digest_sources", "action": _AddDigestSource, "metavar": "FILE"}
    digests.add_argument(DIGEST_FILE, const=DIGEST_FILE, help="Kaniko --digest-file / Buildah --digestfile", **common)
    digests.add_argument(
        IMAGE_NAME_WITH_DIGEST_FILE,
        "--image-name-tag-with-digest-file",
        const=IMAGE_NAME_WITH_DIGEST_FILE,
        help="Kaniko --image-name-with-digest-file / --image-name-tag-with-digest-file",
        **common,
    )
    digests.add_argument(KANIKO_LOG, const=KANIKO_LOG, help="Kaniko's log (the 'Pushed …@sha256:…' line)", **common)
    digests.add_argument(BUILDX_METADATA, const=BUILDX_METADATA, help="docker buildx --metadata-file", **common)
    digests.add_argument(
        RESOLVE_DIGEST,
        const=RESOLVE_DIGEST,
        nargs=0,
        dest="digest_sources",
        action=_AddDigestSource,
        help="ask the registry which digest image:tag has (records platform digests of a multi-arch index)",
    )
    registry = parser.add_argument_group("registry (for --resolve-digest)")
    allow_empty(registry.add_argument("--registry-user", help="[C2C_REGISTRY_USER]"))
    allow_empty(registry.add_argument("--registry-password", help="[C2C_REGISTRY_PASSWORD] (prefer the environment variable)"))
    registry.add_argument("--insecure-registry", action="store_true", help="plain http (a local registry)")
    return parser


def _pick(value: str | None, env: Mapping[str, str], *names: str) -> str | None:
    if value:
        return value
    return next((env[name] for name in names if env.get(name)), None)


def _required(value: str | None, option: str, env_var: str, missing: list[str]) -> str:
    if not value:
        missing.append(f"{option} (or environment variable {env_var})")
    return value or ""


def _build_number(text: str) -> int:
    try:
        number = int(text) if len(text) <= 12 else -1
    except ValueError:
        number = -1
    if not 0 <= number <= MAX_BUILD_NUMBER:
        raise UsageError(f"build number {shown(text)} (--build-number / BUILD_NUMBER) is not a whole number from 0 "
                         f"to {MAX_BUILD_NUMBER}")
    return number


def _output_path(text: str) -> None:
    """--output names a file in an existing directory: refused here, not as an OSError after the work."""
    path = Path(text)
    if any(len(os.fsencode(part)) > 255 for part in path.parts) or not (path.parent if path.parent != Path() else Path(".")).is_dir():
        raise UsageError(f"--output {shown(text)}: expected a file in an existing directory (names of at most 255 bytes)")


def _image(text: str | None) -> ImageReference:
    if not text:
        raise UsageError("missing --image: the image repository as pushed, e.g. narendra115c/node-js")
    try:
        ref = parse_reference(text)
    except InvalidReferenceError as exc:
        raise UsageError(f"--image: {exc}") from exc
    if ref.tag or ref.digest:
        raise UsageError(f"--image {shown(text)}: give the repository without tag or digest (the tag comes from --tag)")
    return ref


def read_digest(
    source: DigestSource, image: ImageReference, tag: str, client_factory: Callable[[], RegistryClient]
) -> DigestResult:
    """One source's digest, or :class:`DigestSourceError` saying why it has none."""
    if source.kind == RESOLVE_DIGEST:
        reference = image.with_tag(tag)
        try:
            resolved = client_factory().resolve(reference)
        except RegistryError as exc:
            raise DigestSourceError(f"{RESOLVE_DIGEST} {reference}: {exc}") from exc
        return DigestResult(
            digest=resolved.digest,
            source=f"{RESOLVE_DIGEST} {reference}",
            media_type=resolved.media_type,
            platform_digests=resolved.platform_digests,
        )
    label = source.describe()
    try:
        text = source.path.read_text(encoding="utf-8", errors="replace")  # type: ignore[union-attr]
    except FileNotFoundError as exc:
        raise DigestSourceError(f"{label}: file not found") from exc
    except OSError as exc:
        raise DigestSourceError(f"{label}: cannot read ({exc.strerror})") from exc
    if source.kind == DIGEST_FILE:
        return DigestResult(parse_digest_file(text, label), label)
    if source.kind == IMAGE_NAME_WITH_DIGEST_FILE:
        return DigestResult(parse_image_name_with_digest(text, image, label), label)
    if source.kind == KANIKO_LOG:
        return DigestResult(parse_kaniko_log(text, image, label), label)
    if source.kind == BUILDX_METADATA:
        return parse_buildx_metadata(text, image, label)
    raise AssertionError(f"unknown digest source {source.kind}")


def first_digest(
    sources: Sequence[DigestSource], image: ImageReference, tag: str, client_factory: Callable[[], RegistryClient]
) -> tuple[DigestResult | None, list[str]]:
    """The first source's digest in order, and why each source tried before it failed."""
    failures: list[str] = []
    for source in sources:
        try:
            return read_digest(source, image, tag, client_factory), failures
        except DigestSourceError as exc:
            failures.append(str(exc))
    return None, failures


def run(argv: Sequence[str] | None, env: Mapping[str, str]) -> int:
    args = build_parser().parse_args(argv)
    repo = Path(args.repo)
    missing: list[str] = []
    job_name = _required(_pick(args.job_name, env, "JOB_NAME"), "--job-name", "JOB_NAME", missing)
    number_text = _required(_pick(args.build_number, env, "BUILD_NUMBER"), "--build-number", "BUILD_NUMBER", missing)
    if not args.print_tag and not args.output:
        missing.append("--output (where to write build-metadata.json)")
    if not args.print_tag and not args.image:
        missing.append("--image (the image repository as pushed)")
    if missing:
        raise UsageError("missing " + "; ".join(missing))
    build_number = _build_number(number_text)
    if len(build_id(job_name, build_number).encode()) > MAX_BUILD_ID_BYTES:
        raise UsageError(f"job name {shown(job_name)} (--job-name / JOB_NAME): the build id would be over "
                         f"{MAX_BUILD_ID_BYTES} bytes, more than the store keeps as an id")
    status = (args.status or "SUCCESS").upper()
    if status not in BUILD_STATUSES:
        raise UsageError(f"--status {shown(args.status)} is not one of {', '.join(BUILD_STATUSES)}")
    if not repo.is_dir():
        raise UsageError(f"--repo {shown(args.repo)}: not a directory (the git checkout)")
    if args.output:
        _output_path(args.output)
    head = resolve_commit(repo, _pick(args.commit, env, "GIT_COMMIT") or "HEAD", "commit (--commit / GIT_COMMIT)")
    if args.tag and not TAG_RE.match(args.tag):
        raise UsageError(f"--tag {shown(args.tag)} is not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})")
    tag = args.tag or safe_tag(job_name, build_number, head)
    if args.print_tag:
        print(tag)
        return EXIT_OK

    image = _image(args.image)
    sources: list[DigestSource] = args.digest_sources or []
    if not sources:
        raise UsageError(
            "no digest source: give one or more of --digest-file, --image-name-with-digest-file, "
            "--kaniko-log, --buildx-metadata, --resolve-digest"
        )

    collection = collect_commits(repo, head, _pick(args.previous_commit, env, "GIT_PREVIOUS_SUCCESSFUL_COMMIT"))
    for warning in collection.warnings:
        print(f"c2c-build-metadata: warning: {warning}", file=sys.stderr)

    def client() -> RegistryClient:
        return RegistryClient(
            username=_pick(args.registry_user, env, "C2C_REGISTRY_USER"),
            password=_pick(args.registry_password, env, "C2C_REGISTRY_PASSWORD"),
            insecure=args.insecure_registry,
        )

    digest, failures = first_digest(sources, image, tag, client)
    if digest is None:
        print(
            f"c2c-build-metadata: no image digest for {args.image}:{tag} from any source; "
            "nothing written. Tried:\n" + "\n".join(f"  - {f}" for f in failures),
            file=sys.stderr,
        )
        return EXIT_NO_DIGEST
    for failure in failures:
        print(f"c2c-build-metadata: warning: skipped {failure}", file=sys.stderr)

    doc = assemble_document(
        job_name=job_name,
        build_number=build_number,
        image_name=args.image,
        image_tag=tag,
        digest=digest,
        collection=collection,
        build_status=status,
        timestamp=utc_now(),
        branch=branch_name(_pick(args.branch, env, "GIT_BRANCH", "BRANCH_NAME")) or current_branch(repo),
        repo_url=_pick(args.repo_url, env, "GIT_URL") or remote_url(repo),
        build_url=_pick(args.build_url, env, "BUILD_URL"),
    )
    errors = schema_errors(doc)
    if errors:  # a bug here, not bad input: never archive a document ci_builds would refuse
        print(f"c2c-build-metadata: internal error, document fails the schema: {errors}", file=sys.stderr)
        return EXIT_ERROR
    statement = None
    if args.provenance or args.provenance_predicate:
        statement = provenance_statement(args, env, image, doc, digest)
    write_json_atomic(Path(args.output), doc)
    print(
        f"c2c-build-metadata: wrote {args.output}: build {doc['build_id']}, "
        f"{args.image}:{tag}@{digest.digest} (from {digest.source}), {len(doc['commits'])} commit(s)"
    )
    if statement is not None:
        if args.provenance:
            write_json_atomic(Path(args.provenance), statement)
        if args.provenance_predicate:
            write_json_atomic(Path(args.provenance_predicate), statement["predicate"])
        written = " and ".join(filter(None, [args.provenance, args.provenance_predicate]))
        print(f"c2c-build-metadata: wrote {written}: SLSA provenance v1 of {len(statement['subject'])} "
              f"subject(s), builder {statement['predicate']['runDetails']['builder']['id']} (unsigned: sign with cosign)")
    return EXIT_OK


def provenance_statement(args: argparse.Namespace, env: Mapping[str, str], image: ImageReference,
                         doc: Mapping, digest: DigestResult) -> dict:
    """The unsigned in-toto statement of what ``doc`` records; the builder id must be known."""
    build_url = doc.get("build_url")
    builder = _pick(args.job_url, env, "JOB_URL") or provenance.job_url_of(build_url)
    if not builder:
        raise UsageError("--provenance needs the builder id: --job-url (or JOB_URL), or a --build-url ending in the build number")
    started_text = _pick(args.started_on, env, "C2C_BUILD_STARTED_ON")
    try:
        started = parse_time(int(started_text) if started_text and started_text.isdigit() else started_text)
    except ValueError as exc:
        raise UsageError(f"--started-on {started_text!r} is neither ISO 8601 nor epoch milliseconds") from exc
    body = provenance.predicate(
        job_name=doc["job_name"], branch=doc.get("branch"), repo_url=doc.get("repo_url"),
        source_commit=doc["source_commit"], builder_id=builder, build_url=build_url,
        started_on=started, finished_on=utc_now(), build_number=doc["build_number"],
    )
    return provenance.statement(image, digest.digest, digest.platform_digests, body)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv, os.environ)
    except (UsageError, GitError) as exc:
        print(f"c2c-build-metadata: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (BuildMetadataError, OSError) as exc:
        print(f"c2c-build-metadata: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
