"""The habits of the ecosystem's CLIs, each proven with the real thing: did-you-mean for a
mistyped sub-command or choice, colour on a real terminal only (a pseudo-terminal here) and
never with NO_COLOR, JSON from render and graph, and shell completion run by bash, zsh and fish
themselves (scripts/install-tools shells brings zsh and fish from Debian's packages)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from govstack_gen.cli import main
from govstack_gen.commands.terminal import wants_colour
from govstack_gen.resolve import depths
from helpers import CASES, EXAMPLES, ROOT, read_tree

MINIMAL = CASES / "valid" / "minimal" / "environment.yaml"
K3S = EXAMPLES / "sandbox-k3s" / "environment.yaml"
RED = "\033[1;31m"


@pytest.mark.parametrize(("argv", "suggestion"), [
    (["rendr"], "did you mean 'render'?"),
    (["valdate", "x.yaml"], "did you mean 'validate'?"),
    (["graph", "--format", "mermiad"], "did you mean 'mermaid'?"),
    (["--color", "allways", "render"], "did you mean 'always'?"),
])
def test_did_you_mean(argv: list[str], suggestion: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.rstrip().endswith(suggestion)


def test_nothing_close_suggests_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["zzzz"])
    assert "did you mean" not in capsys.readouterr().err


def on_a_terminal(argv: list[str], env: dict[str, str]) -> str:
    """What the command writes to stderr when stderr is a terminal (a pseudo-terminal)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "govstack_gen", *argv], stderr=follower, stdout=subprocess.DEVNULL,
                               env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_only(tmp_path: Path) -> None:
    invalid = ["render", str(CASES / "invalid" / "duplicate-id" / "environment.yaml"), "-o", str(tmp_path / "o")]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")} | {"TERM": "xterm"}
    coloured = on_a_terminal(invalid, env)
    assert f"{RED}error[E301]\033[0m: environment.yaml:19:9:" in coloured
    assert "  \033[36mhint:\033[0m give each building block its own id" in coloured
    assert "\033[" not in on_a_terminal(invalid, env | {"NO_COLOR": "1"})
    assert "\033[" not in on_a_terminal(invalid, env | {"TERM": "dumb"})
    assert "\033[" not in on_a_terminal(["--color", "never", *invalid], env)
    piped = subprocess.run([sys.executable, "-m", "govstack_gen", *invalid], capture_output=True, text=True, env=env)
    assert "\033[" not in piped.stderr and "error[E301]" in piped.stderr
    forced = subprocess.run([sys.executable, "-m", "govstack_gen", "--color", "always", *invalid], capture_output=True,
                            text=True, env=env | {"NO_COLOR": "1"})
    assert f"{RED}error[E301]" in forced.stderr  # the explicit flag wins over the environment


def test_the_colour_rule() -> None:
    class Terminal:
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    assert wants_colour("auto", tty, {}) and wants_colour("always", tty, {"NO_COLOR": "1"})  # type: ignore[arg-type]
    assert not wants_colour("auto", tty, {"NO_COLOR": "1"}) and not wants_colour("never", tty, {})  # type: ignore[arg-type]
    assert not wants_colour("auto", sys.stderr, {}) or sys.stderr.isatty()


def test_render_reports_in_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["render", str(MINIMAL), "-o", str(out), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["created"] == sorted(rel for rel in read_tree(out) if not rel.startswith(".govstack-gen/"))
    assert (report["updated"], report["deleted"], report["refused"], report["check"]) == ([], [], [], False)
    assert main(["render", str(MINIMAL), "-o", str(out), "--format", "json"]) == 0  # the quick path
    again = json.loads(capsys.readouterr().out)
    assert (again["created"], again["unchanged"]) == ([], len(report["created"]))
    edited = out / "clusters" / "dev" / "kustomization.yaml"
    edited.write_text(edited.read_text() + "# mine\n")
    assert main(["render", str(MINIMAL), "-o", str(out), "--format", "json", "--check"]) == 1
    stale = json.loads(capsys.readouterr().out)
    assert stale["check"] and [(r["code"], Path(r["file"]).name) for r in stale["refused"]] == [("E401", "kustomization.yaml")]


def test_graph_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    from govstack_gen.pipeline import load_and_resolve

    capsys.readouterr()
    assert main(["graph", str(K3S), "--format", "json"]) == 0
    graph = json.loads(capsys.readouterr().out)
    env = load_and_resolve(K3S)
    assert {b["id"]: b["wave"] for b in graph["buildingBlocks"]} == depths(env)
    order = {(e["from"], e["to"]) for e in graph["edges"] if e["kind"] in ("order", "weak")}
    assert order == {(d, b.id) for b in env.blocks for d in (b.depends_on or ("platform",))}
    assert {"from": "messaging", "to": "monitoring", "kind": "influence"} in graph["edges"]


def completion(shell: str) -> str:
    return subprocess.run([sys.executable, "-m", "govstack_gen", "completion", shell], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def shells() -> None:
    result = subprocess.run([str(ROOT / "scripts" / "install-tools"), "shells"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


BASH_CASES = [
    (["govstack-gen", "re"], ["render"]),
    (["govstack-gen", "render", "--fo"], ["--force", "--format"]),
    (["govstack-gen", "render", "--format", ""], ["text", "json"]),
    (["govstack-gen", "explain", "E51"], [f"E51{n}" for n in range(9)]),
    (["govstack-gen", "--color", ""], ["auto", "always", "never"]),
    (["govstack-gen", "--color", "never", "va"], ["validate"]),
    (["govstack-gen", "completion", ""], ["bash", "zsh", "fish"]),
]


@pytest.mark.parametrize(("words", "expected"), BASH_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_bash_completes(words: list[str], expected: list[str], tmp_path: Path) -> None:
    script = tmp_path / "completion.bash"
    script.write_text(completion("bash"))
    quoted = " ".join(f"'{w}'" for w in words)
    result = subprocess.run(["bash", "-c", f'source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; '
                             '_govstack_gen; printf "%s\\n" "${COMPREPLY[@]}"; complete -p govstack-gen'],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    *found, registered = result.stdout.splitlines()
    assert found == expected
    assert registered == "complete -o filenames -F _govstack_gen govstack-gen"


def test_bash_completes_folders_for_dir_options(tmp_path: Path) -> None:
    (tmp_path / "charts").mkdir()
    (tmp_path / "chart.tgz").write_text("")
    script = tmp_path / "completion.bash"
    script.write_text(completion("bash"))
    result = subprocess.run(["bash", "-c", f"source {script}; COMP_WORDS=(govstack-gen validate --chart-dir ch); COMP_CWORD=3; "
                             '_govstack_gen; printf "%s\\n" "${COMPREPLY[@]}"'], cwd=tmp_path, capture_output=True, text=True)
    assert result.stdout.splitlines() == ["charts"]


def test_fish_completes(shells: None, tmp_path: Path) -> None:
    script = tmp_path / "completion.fish"
    script.write_text(completion("fish"))

    def complete(line: str) -> list[str]:
        result = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"], capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0, result.stderr
        return [row.split("\t")[0] for row in result.stdout.splitlines()]

    assert complete("govstack-gen ren") == ["render"]
    assert complete("govstack-gen render --fo") == ["--force", "--format"]
    assert complete("govstack-gen render --format ") == ["json", "text"]
    assert complete("govstack-gen --color ") == ["always", "auto", "never"]
    assert complete("govstack-gen explain E51") == [f"E51{n}" for n in range(9)]


def test_zsh_registers_the_completion(shells: None, tmp_path: Path) -> None:
    """zsh runs the bash function (bashcompinit); outside a completion widget it cannot filter by
    prefix, so this checks the registration and that the candidates are there."""
    script = tmp_path / "completion.zsh"
    script.write_text(completion("zsh"))
    result = subprocess.run(["zsh", "-f", "-c", f"autoload -U compinit; compinit -u -D; source {script}; "
                             "print -- ${_comps[govstack-gen]}; setopt ksharrays; "
                             "COMP_WORDS=(govstack-gen render --fo); COMP_CWORD=2; _govstack_gen; print -l -- ${COMPREPLY[*]}"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    registered, *candidates = result.stdout.split()
    assert result.stdout.startswith("_bash_complete -o filenames -F _govstack_gen\n")
    assert {"--force", "--format"} <= set(candidates)
    assert registered == "_bash_complete"
