"""Real recorded Jenkins build answers (payloads/, each with its SOURCE note) and the variants the
tests derive from them. Every derivation says what it changes and where the changed shape comes
from: a variant never invents a field a real Jenkins does not write.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from c2c_dagster.jenkins.transform import GIT_BUILD_DATA, LIBRARIES_ACTION, SCM_REVISION_ACTION

PAYLOADS = Path(__file__).parent / "payloads"

# The recorded multibranch build (payloads/multibranch-main-721.json): job DeployFrontendStage,
# branch main. Its four checkouts, in Jenkins' order, and what each one is: the branch source is
# ara-pipelines (the job's repository, at the job's branch); infra-jenkins-pipeline-libs and
# pipeline-automation-lib are shared libraries (checked out by version as a branch-source name,
# the way SCMSourceRetriever checks a library out); ara_spec_files is a `git` step's checkout.
MB_JOB = "DCAPI/DeploymentJobs/DeployFrontendStage/main"
INFRA_LIB = "c695d1d1fc99c00683fb81a2e2a5ea18d8eed4ba"
AUTOMATION_LIB = "38cdd31cdaa3d07d1380cf91d282e08e71bb0e06"
APP = "2c8143d26419e53c1495c9276d49871d7e42ff8f"
SPEC_FILES = "2becaf9eed865452cee60f25842ca2aa7908ae2c"
APP_REMOTE = "https://gitrepository.dettonville.int/stash/scm/API/ara-pipelines.git"
# What a LibrariesAction of that build lists (derived, see libraries_action): each library under
# its repository's name, at the version its checkout records.
MB_LIBRARIES = [("infra-jenkins-pipeline-libs", "develop"), ("pipeline-automation-lib", "main")]


def recorded(name: str) -> dict[str, Any]:
    """A recorded payload, fresh each call (variants edit their copy)."""
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def checkouts_of(build: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in build["actions"] if a.get("_class") == GIT_BUILD_DATA]


def libraries_action(libraries: list[tuple[str, str]]) -> dict[str, Any]:
    """A ``LibrariesAction`` as Jenkins exports it: pipeline-groovy-lib's ``LibrariesAction``
    (``@ExportedBean``, ``@Exported getLibraries()``) of ``LibraryRecord``s (``@Exported`` name,
    version, variables, trusted, changelog), jenkinsci/pipeline-groovy-lib-plugin at
    5cc688825312c805c93cadd0b61c42cdbf45f61f (MIT). c2c's tree= asks ``libraries[name,version]``."""
    return {"_class": LIBRARIES_ACTION,
            "libraries": [{"name": name, "version": version, "variables": [], "trusted": True, "changelog": True}
                          for name, version in libraries]}


def with_libraries(build: dict[str, Any], libraries: list[tuple[str, str]]) -> dict[str, Any]:
    """Derived: a ``LibrariesAction`` with its exported fields, placed before the first checkout
    (the recorded controller exported none of its fields, so it shows there as one of the ``{}``;
    where it stands among the actions does not matter to c2c)."""
    build = copy.deepcopy(build)
    action = libraries_action(libraries)
    first = next(i for i, a in enumerate(build["actions"]) if a.get("_class") == GIT_BUILD_DATA)
    build["actions"].insert(first, action)
    return build


def with_branch_source_revision(build: dict[str, Any], commit: str, head: str) -> dict[str, Any]:
    """Derived: the recorded ``SCMRevisionAction`` with the revision c2c's tree= asks for, shaped as
    ci.jenkins.io answers it (payloads/scm-revision-structs-pr-36-3.json: ``_class``
    ``AbstractGitSCMSource$SCMRevisionImpl``, ``hash``) plus ``head[name]`` (scm-api's
    ``@Exported SCMRevision.getHead()``, ``SCMHead.getName()``)."""
    build = copy.deepcopy(build)
    action = next(a for a in build["actions"] if a.get("_class") == SCM_REVISION_ACTION)
    action["revision"] = {"_class": "jenkins.plugins.git.AbstractGitSCMSource$SCMRevisionImpl", "hash": commit,
                          "head": {"_class": "jenkins.plugins.git.GitBranchSCMHead", "name": head}}
    return build


def reordered(build: dict[str, Any], order: tuple[int, ...]) -> dict[str, Any]:
    """Derived: the same checkout records in another order (``order[i]`` is the recorded
    position of the record placed i-th), each in one of the slots the records held."""
    build = copy.deepcopy(build)
    slots = [i for i, a in enumerate(build["actions"]) if a.get("_class") == GIT_BUILD_DATA]
    records = [build["actions"][i] for i in slots]
    for slot, source in zip(slots, order, strict=True):
        build["actions"][slot] = records[source]
    return build


def change_set(*items: dict[str, Any]) -> dict[str, Any]:
    return {"_class": "hudson.plugins.git.GitChangeSetList", "items": list(items), "kind": "git"}


def change_item(commit: str, author: str, email: str, msg: str, timestamp: int) -> dict[str, Any]:
    """A change-set item shaped as the recorded ones (payloads/multibranch-main-721.json), fields
    in the same order, with another commit, author and message."""
    item = copy.deepcopy(recorded("multibranch-main-721")["changeSets"][0]["items"][0])
    item.update(commitId=commit, id=commit, msg=msg, comment=msg + "\n", authorEmail=email, timestamp=timestamp,
                author={"absoluteUrl": f"https://jenkins.example/user/{email.split('@')[0]}", "fullName": author})
    return item


def with_change_sets(build: dict[str, Any], sets: list[dict[str, Any]]) -> dict[str, Any]:
    """Derived: the build's ``changeSets`` replaced (a Pipeline lists one per checkout that took
    commits, in checkout order: WorkflowRun.onCheckout skips empty ones)."""
    build = copy.deepcopy(build)
    build["changeSets"] = sets
    return build
