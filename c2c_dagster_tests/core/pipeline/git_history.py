"""A real git repository with a history worth recording (a multi-line message, a merge of a
feature branch), and the environment Jenkins gives a build of it: shared by the pipeline-tool tests."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

DIGEST = "sha256:a0243d98dd20494f723081c48fa5417bde51458f579718cdccdde03a740725f7"
ANN = ("Ann Lee", "ann@example.com")
BOB = ("Bob Ó Briain", "bob@example.org")  # non-ASCII survives git and JSON
MULTILINE = 'Handle "quotes" | pipes\n\nBody line one\n\tindented | line two\n\nSigned-off-by: Bob <bob@example.org>'


def base_env(home: Path) -> dict[str, str]:
    """A clean environment: nothing of the machine's git config or of a CI running these tests."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }


@dataclass
class Repo:
    path: Path
    env: dict[str, str]
    clock: int = 1_769_800_000  # commit times one minute apart keep `git log` order deterministic

    def git(self, *args: str, author: tuple[str, str] = ANN) -> str:
        self.clock += 60
        env = {
            **self.env,
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
            "GIT_AUTHOR_DATE": f"@{self.clock} +0000",
            "GIT_COMMITTER_DATE": f"@{self.clock} +0000",
        }
        done = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def commit(self, message: str, author: tuple[str, str] = ANN) -> str:
        name = f"f{self.clock}.txt"
        (self.path / name).write_text(message)
        self.git("add", name)
        self.git("commit", "-q", "-m", message, author=author)
        return self.git("rev-parse", "HEAD")

    def rev_list(self, spec: str) -> list[str]:
        return self.git("log", "--format=%H", spec).splitlines()


@dataclass
class History:
    repo: Repo
    initial: str
    multiline: str
    feature: list[str]
    master_tip: str
    merge: str


def make_history(tmp_path: Path) -> History:
    """master: initial (Ann), multi-line (Bob), then a merge (Bob) of a feature branch (Ann, Bob)
    made next to one more master commit (Ann)."""
    path = tmp_path / "app"
    path.mkdir()
    repo = Repo(path, base_env(tmp_path))
    repo.git("init", "-q", "-b", "master")
    initial = repo.commit("Initial commit", ANN)
    multiline = repo.commit(MULTILINE, BOB)
    repo.git("checkout", "-q", "-b", "feature")
    feature = [repo.commit("Feature: first part", ANN), repo.commit("Feature: second part", BOB)]
    repo.git("checkout", "-q", "master")
    master_tip = repo.commit("Master moves on", ANN)
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature", author=BOB)
    merge = repo.git("rev-parse", "HEAD")
    return History(repo, initial, multiline, feature, master_tip, merge)



def jenkins_env(history: History, **extra: str) -> dict[str, str]:
    """What Jenkins' git plugin and a multibranch pipeline put in a build's environment."""
    return {
        **history.repo.env,
        "JOB_NAME": "Node-JS/master",
        "BUILD_NUMBER": "67",
        "BUILD_URL": "https://jenkins.example.com/job/Node-JS/job/master/67/",
        "GIT_COMMIT": history.merge,
        "GIT_BRANCH": "origin/master",
        "GIT_URL": "https://jenkins-bot:ghp_secret@github.com/narendra115c/node-js.git",
        **extra,
    }


def write_digest(path: Path, digest: str = DIGEST) -> Path:
    path.write_text(digest)  # Kaniko and Buildah write no newline
    return path
