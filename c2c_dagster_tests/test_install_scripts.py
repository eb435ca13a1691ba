"""Every Debian package the service installers name resolves to an installable candidate on this
machine (``apt-cache policy``), so a package name a Debian release does not have fails here, not on a
new machine. The names are read from ``scripts/services/*.sh`` themselves: what ``apt-get install``
gets and what is added to a ``missing+=(...)`` list, variables and arrays resolved."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from c2c_devstack.services import REPO_ROOT

SCRIPTS = REPO_ROOT / "scripts" / "services"
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\+?)=(.*)$", re.S)
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(\[[@*]\])?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", "\n"}
_REDIRECTION = re.compile(r"^\d*(?:>>?|<|&>|>&)(.*)$")


class UnresolvedPackageError(AssertionError):
    """A package argument this test cannot turn into names: write it so it can be checked."""


@dataclass
class ScriptPackages:
    """The Debian packages one script asks apt for, each with where it is named."""

    script: Path
    packages: dict[str, str] = field(default_factory=dict)  # name -> "script:line"


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with backslash continuations joined, each with the number of its first line."""
    lines: list[tuple[int, str]] = []
    start, buffer = 0, ""
    for number, line in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        lines.append((start, buffer + line))
        buffer = ""
    if buffer:
        lines.append((start, buffer))
    return lines


def _tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:  # an unterminated quote spans lines (a heredoc or a long string): no command here
        return []


def _commands(tokens: list[str]) -> Iterable[list[str]]:
    """Simple commands, redirections (``>/dev/null``, ``2> log``) left out."""
    command: list[str] = []
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
        elif token in _SEPARATORS:
            if command:
                yield command
            command = []
        elif redirection := _REDIRECTION.match(token):
            skip_next = not redirection.group(1)  # "> file": the target is the next token
        else:
            command.append(token)
    if command:
        yield command


def _expand(word: str, scalars: dict[str, list[str]], arrays: dict[str, list[str]], where: str) -> list[str]:
    """``word`` with ``$NAME``, ``${NAME}`` and ``${NAME[@]}`` replaced; several names when it expands to several."""
    match = _VARIABLE.fullmatch(word)
    if match and match.group(2):  # "${missing[@]}"
        name = match.group(1)
        if name not in arrays:
            raise UnresolvedPackageError(f"{where}: array {name!r} is never assigned literal package names")
        return [w for item in arrays[name] for w in _expand(item, scalars, arrays, where)]

    def scalar(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        values = scalars.get(name) or arrays.get(name)
        if not values or len(values) != 1 and word != m.group(0):
            raise UnresolvedPackageError(f"{where}: cannot resolve ${name} in {word!r} to package names")
        return " ".join(values)

    expanded = _VARIABLE.sub(scalar, word)
    if any(c in expanded for c in "$`*?[]{}"):
        raise UnresolvedPackageError(f"{where}: {word!r} is not a literal package name this test can check")
    return expanded.split()


def packages_named(script: Path, text: str | None = None) -> ScriptPackages:
    """Every package ``script`` installs with apt (``apt-get install``/``apt install``) or adds to a
    ``missing`` list; raises ``UnresolvedPackageError`` for an argument it cannot read."""
    text = script.read_text() if text is None else text
    found = ScriptPackages(script)
    scalars: dict[str, list[str]] = {}
    arrays: dict[str, list[str]] = {}
    for number, line in _logical_lines(text):
        where = f"{script.name}:{number}"
        tokens = _tokens(line)
        # Array assignments: name=( a b ) / name+=( c ), as the lexer splits them. Expanded only
        # where they name packages (a "missing" list, or apt-get's arguments).
        for i, token in enumerate(tokens):
            assignment = _ASSIGNMENT.match(token)
            if assignment and assignment.group(3) == "" and i + 1 < len(tokens) and tokens[i + 1] == "(":
                end = tokens.index(")", i + 2) if ")" in tokens[i + 2:] else len(tokens)
                name = assignment.group(1)
                words = tokens[i + 2:end]
                if name == "missing":
                    words = [w for t in words for w in _expand(t, scalars, arrays, where)]
                    found.packages.update({w: where for w in words})
                arrays[name] = (arrays.get(name, []) if assignment.group(2) else []) + words
        for command in _commands(tokens):
            words = list(command)
            while words and _ASSIGNMENT.match(words[0]) and words[0] not in ("missing+=", "missing="):
                name, _, value = _ASSIGNMENT.match(words.pop(0)).groups()
                if not words:  # a plain assignment, not an environment prefix
                    if value and "$(" not in value and "`" not in value:
                        scalars[name] = value.split()
            if words and words[0] in ("sudo", "env"):
                words = words[1:]
            if len(words) < 2 or words[0] not in ("apt-get", "apt"):
                continue
            arguments = [w for w in words[1:] if not w.startswith("-")]
            if not arguments or arguments[0] != "install":
                continue
            for argument in arguments[1:]:
                for name in _expand(argument, scalars, arrays, where):
                    # name=version and name/release select a version; apt-cache policy takes the name.
                    found.packages[re.split(r"[=/]", name, maxsplit=1)[0]] = where
    return found


def candidates(packages: Iterable[str]) -> dict[str, str | None]:
    """``apt-cache policy``'s candidate version per package (None: no candidate, or unknown to apt)."""
    names = sorted(set(packages))
    out = subprocess.run(["apt-cache", "policy", *names], capture_output=True, text=True, check=True).stdout
    found: dict[str, str | None] = dict.fromkeys(names)
    current = None
    for line in out.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
        elif current in found and line.strip().startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            found[current] = None if version == "(none)" else version
    return found


def test_every_debian_package_the_installers_name_has_an_installable_candidate() -> None:
    if shutil.which("apt-cache") is None:
        pytest.fail("apt-cache not found: the installers in scripts/services use apt; run the tests on Debian 12")
    scripts = sorted(SCRIPTS.glob("*.sh")) + [SCRIPTS / "install-all"]
    named: dict[str, str] = {}
    for script in scripts:
        named.update(packages_named(script).packages)
    assert "buildah" in named and "docker-registry" in named  # the parser sees registry.sh's list
    versions = candidates(named)
    missing = {name: named[name] for name, version in versions.items() if version is None}
    assert not missing, (
        f"no installable candidate on this machine for {missing} (apt-cache policy shows Candidate: (none) or "
        "nothing): use the package name this Debian release has (apt-cache search), or run apt-get update if "
        "the package lists are empty"
    )


def test_package_names_are_read_through_continuations_variables_and_arrays() -> None:
    script = Path("example.sh")
    text = """#!/usr/bin/env bash
MAJOR=15
TOOLS="jq curl"
missing=()
command -v buildah >/dev/null || missing+=(buildah)
[ -f /etc/containers/policy.json ] || missing+=(golang-github-containers-common)
echo "example.sh: need root to apt-get install postgresql-$MAJOR" >&2   # not a command
extra=(redis-tools "postgresql-client-$MAJOR")
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \\
    --no-install-recommends "${missing[@]}" "postgresql-$MAJOR" $TOOLS >/dev/null
sudo apt-get -y install "${extra[@]}" kustomize=5.8.1-1 # trailing comment apt-get install nothing
"""
    assert sorted(packages_named(script, text).packages) == sorted([
        "buildah", "golang-github-containers-common", "postgresql-15", "jq", "curl", "redis-tools",
        "postgresql-client-15", "kustomize"])
    assert packages_named(script, text).packages["postgresql-15"] == "example.sh:9"
    with pytest.raises(UnresolvedPackageError, match=r"example.sh:1: cannot resolve \$VERSION"):
        packages_named(script, 'apt-get install -y "tool-$VERSION"\n')
    with pytest.raises(UnresolvedPackageError, match="example.sh:1: .* is not a literal package name"):
        packages_named(script, "apt-get install -y $(cat list)\n")
