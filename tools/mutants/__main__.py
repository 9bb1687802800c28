"""``make mutants [MODULE=name]``: mutation testing of the guard modules with mutmut.

For each module of ``guards.toml`` (or the one named): refresh a git worktree of HEAD under
``.data/mutants/tree`` (the shared checkout is never mutated), write mutmut's configuration for
that module there, run ``mutmut run`` on its guard functions with its tests, and keep the
outcome in ``.data/mutants/results/<module>.json``: counts, run time, and the diff of every
mutant that survived. ``--summary`` prints the results kept so far as the table of
docs/MUTANTS.md.

Run it through the devstack (``make mutants`` does), so ``DATABASE_URL`` / ``REDIS_URL`` name
the machine's servers or the embedded ones.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().with_name("guards.toml")
WORK = ROOT / ".data" / "mutants"
TREE = WORK / os.environ.get("CHORUS_MUTANTS_TREE", "tree")
"""Another name runs a second worktree beside the first (its own template database too)."""
RESULTS = WORK / "results"
LOGS = WORK / "logs"

# Lines that are nothing but a string literal (the continuation lines of a message): changing
# the wording of a message is for review, not for a guard's tests, so mutmut leaves them be.
MESSAGE_LINE = r'^\s*f?"[^"]*"\s*,?\s*$'

STATUS_BY_EXIT_CODE = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests"}
STATUS_BY_EXIT_CODE |= dict.fromkeys((36, -24, 24, 152, 255), "timeout")


@dataclass(frozen=True)
class Module:
    name: str
    files: list[str]
    functions: list[str]
    tests: list[str]

    def patterns(self) -> list[str]:
        """mutmut's names of this module's mutants, as globs."""
        out: list[str] = []
        for file in self.files:
            dotted = file.removesuffix(".py").replace("/", ".")
            if not self.functions:
                out.append(f"{dotted}.*")
                continue
            for function in self.functions:
                mangled = (
                    "x" + "".join(f"ǁ{p}" for p in function.split("."))
                    if "." in function
                    else f"x_{function}"
                )
                out.append(f"{dotted}.{mangled}__mutmut_*")
        return out


def load_modules() -> list[Module]:
    data = tomllib.loads(CONFIG.read_text())
    return [
        Module(name, spec["files"], spec.get("functions", []), spec["tests"])
        for name, spec in data["modules"].items()
    ]


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def refresh_tree() -> str:
    """A clean worktree of HEAD; returns its commit."""
    head = _git("rev-parse", "HEAD")
    if not (TREE / ".git").exists():
        shutil.rmtree(TREE, ignore_errors=True)
        _git("worktree", "prune")
        WORK.mkdir(parents=True, exist_ok=True)
        _git("worktree", "add", "--detach", str(TREE), head)
    else:
        _git("checkout", "--quiet", "--detach", "--force", head, cwd=TREE)
    _git("clean", "-ffdxq", cwd=TREE)
    return head


def write_setup_cfg(module: Module) -> None:
    def block(key: str, values: list[str]) -> str:
        return f"{key}=\n" + "".join(f"    {v}\n" for v in values)

    text = (
        "[mutmut]\n"
        + block("source_paths", ["shared", "services"])
        + block("only_mutate", module.files)
        + block("also_copy", ["migrations", "alembic.ini", "tools"])
        + block("pytest_add_cli_args_test_selection", module.tests)
        + block(
            "pytest_add_cli_args", ["-p", "tools.mutants.pytest_plugin", "-p", "no:cacheprovider"]
        )
        + block("do_not_mutate_patterns", [MESSAGE_LINE])
        + "use_git_change_detection=false\n"
        # mutmut's wall-clock limit is (the tests' measured time + constant) x multiplier; the
        # measured time leaves out each session's start (database copy, servers), which on a
        # loaded box is most of it: without room here, slow survivors are called timeouts.
        + "timeout_constant=60\n"
        + "timeout_multiplier=5\n"
    )
    (TREE / "setup.cfg").write_text(text)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if TREE.name != "tree":
        env["CHORUS_MUTANTS_TEMPLATE"] = f"chorus_mutants_{TREE.name}"
    return env


def mutmut(*args: str, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = _env()
    command = [sys.executable, "-m", "mutmut", *args]
    if log is None:
        return subprocess.run(command, cwd=TREE, env=env, capture_output=True, text=True)
    with log.open("w") as out:
        return subprocess.run(
            command, cwd=TREE, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )


def _count(statuses: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return counts


def outcome(module: Module, statuses: dict[str, str] | None = None) -> dict[str, object]:
    """The statuses of this module's mutants (``statuses`` overrides the ones not run now),
    and the diffs of the survivors."""
    import fnmatch

    fresh: dict[str, str] = {}
    for file in module.files:
        meta = TREE / "mutants" / f"{file}.meta"
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        for name, code in codes.items():
            if any(fnmatch.fnmatch(name, p) for p in module.patterns()):
                fresh[name] = (
                    "not checked" if code is None else STATUS_BY_EXIT_CODE.get(code, "suspicious")
                )
    if statuses is not None:
        fresh = statuses | {n: s for n, s in fresh.items() if s != "not checked"}
    survivors = {
        name: mutmut("show", name).stdout.split("\n", 1)[1]
        for name, status in sorted(fresh.items())
        if status in ("survived", "no tests", "suspicious")
    }
    return {
        "generated": len(fresh),
        "counts": _count(fresh),
        "statuses": fresh,
        "survivors": survivors,
    }


def _file_hashes(module: Module) -> dict[str, str]:
    return {f: _git("hash-object", f, cwd=TREE) for f in module.files}


def run_module(module: Module, max_children: int, again: str | None) -> dict[str, object]:
    """Runs the module's mutants; with ``again="survivors"`` only the ones that survived the
    last run (after new tests), with ``again="remaining"`` only the ones a stopped run did not
    reach. Both need the mutated files unchanged since the kept results."""
    path = RESULTS / f"{module.name}.json"
    previous = json.loads(path.read_text()) if again and path.is_file() else None
    if again and previous is None:
        raise SystemExit(f"mutants: {module.name} has no results yet; run it whole first")
    commit = refresh_tree()
    paths = module.files + [test.split("::")[0] for test in module.tests]
    missing = [p for p in paths if not (TREE / p).is_file()]
    if missing:
        raise SystemExit(f"guards.toml, module {module.name}: not in HEAD: {', '.join(missing)}")
    hashes = _file_hashes(module)
    names = module.patterns()
    if previous is not None:
        then = {f: _git("rev-parse", f"{previous['commit']}:{f}") for f in module.files}
        if then != hashes:
            raise SystemExit(
                f"mutants: {module.name}'s files changed since its last run; run it whole"
            )
        if again == "remaining":
            names = [n for n, s in previous["statuses"].items() if s == "not checked"]
        else:
            names = [
                n for n, s in previous["statuses"].items() if s not in ("killed", "not checked")
            ]
        if not names:
            print(f"mutants: {module.name}: no {again} to run")
            return previous  # type: ignore[no-any-return]
    write_setup_cfg(module)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{module.name}.log"
    # The database every pytest session of the run copies (tools/mutants/pytest_plugin.py).
    subprocess.run(
        [sys.executable, "-m", "tools.mutants.pytest_plugin"], cwd=TREE, check=True, env=_env()
    )
    print(f"mutants: {module.name} at {commit[:12]} (log: {log.relative_to(ROOT)})", flush=True)
    started = time.monotonic()
    done = mutmut("run", "--max-children", str(max_children), *names, log=log)
    seconds = round(time.monotonic() - started)
    if done.returncode != 0:
        raise SystemExit(
            f"mutants: mutmut failed for {module.name} (exit {done.returncode}); see {log}"
        )
    this_run = {
        "commit": commit,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": seconds,
        "max_children": max_children,
        "mutants_run": len(names) if previous is not None else None,
        "again": again,
    }
    result: dict[str, object] = {"module": module.name, "files": hashes}
    if previous is None:
        result |= this_run | outcome(module)
    else:
        first = {k: previous[k] for k in ("commit", "date", "seconds", "max_children")}
        result |= first | _merged(module, previous, this_run)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"mutants: {module.name}: {result['counts']}, {seconds} s", flush=True)
    survivors: dict[str, str] = result["survivors"]  # type: ignore[assignment]
    for name, diff in survivors.items():
        print(f"\n# {name}\n{diff}")
    return result


def _merged(
    module: Module, previous: dict[str, Any], this_run: dict[str, object]
) -> dict[str, object]:
    """A run of some of the module's mutants on top of the kept results: their statuses replace
    the kept ones; the first run's counts are kept (the remainder of a stopped first run adds
    to them)."""
    fresh = outcome(module, previous["statuses"])
    first = previous.get("first_counts", previous["counts"])
    if this_run.get("again") == "remaining":
        reached = {
            n: s
            for n, s in fresh["statuses"].items()  # type: ignore[attr-defined]
            if previous["statuses"].get(n) == "not checked"
        }
        first = {k: v for k, v in first.items() if k != "not checked"}
        for status in reached.values():
            first[status] = first.get(status, 0) + 1
    return fresh | {"first_counts": first, "reruns": [*previous.get("reruns", []), this_run]}


def summary(modules: list[Module]) -> str:
    lines = [
        "| module | mutants | killed | survived | no tests | timeout | first run: survived,"
        " no tests | run time | commit |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for module in modules:
        path = RESULTS / f"{module.name}.json"
        if not path.is_file():
            lines.append(f"| {module.name} | not run | | | | | | | |")
            continue
        r = json.loads(path.read_text())
        c, first = r["counts"], r.get("first_counts", r["counts"])
        reruns = "".join(f" + {x['seconds']} s" for x in r.get("reruns", []))
        last = r.get("reruns", [r])[-1]["commit"]
        unrun = f" ({c['not checked']} not run)" if c.get("not checked") else ""
        lines.append(
            f"| {module.name} | {r['generated']}{unrun} | {c.get('killed', 0)} "
            f"| {c.get('survived', 0)} "
            f"| {c.get('no tests', 0)} | {c.get('timeout', 0)} "
            f"| {first.get('survived', 0)}, {first.get('no tests', 0)} "
            f"| {r['seconds']} s{reruns} | {last[:10]} |"
        )
    return "\n".join(lines)


def _collect(module: Module) -> dict[str, object]:
    """What the tree's stopped run decided; on top of the kept results when it was a run of
    some of their mutants (``--survivors`` / ``--remaining``) of the same files."""
    commit = _git("rev-parse", "HEAD", cwd=TREE)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    path = RESULTS / f"{module.name}.json"
    previous = json.loads(path.read_text()) if path.is_file() else None
    if previous is not None and previous.get("files") == _file_hashes(module):
        this_run = {"commit": commit, "date": now, "seconds": 0, "again": "remaining"}
        this_run |= {"stopped": True}
        kept = {k: previous[k] for k in ("module", "files", "commit", "date", "seconds")}
        return kept | _merged(module, previous, this_run)
    result: dict[str, object] = {"module": module.name, "files": _file_hashes(module)}
    result |= {"commit": commit, "date": now, "seconds": 0}
    return result | {"stopped": True, **outcome(module)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", help="run these modules of guards.toml only (a,b,...)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--summary", action="store_true", help="print the results table")
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="run again only the last run's survivors (and timeouts)",
    )
    parser.add_argument(
        "--remaining",
        action="store_true",
        help="run only the mutants a stopped run did not reach, on top of its kept results",
    )
    parser.add_argument(
        "--collect",
        action="store_true",
        help="keep the results of a run that was stopped (mutants not reached: 'not checked')",
    )
    args = parser.parse_args(argv)
    modules = load_modules()
    if args.module:
        wanted = args.module.split(",")
        unknown = sorted(set(wanted) - {m.name for m in modules})
        if unknown:
            names = ", ".join(m.name for m in modules)
            parser.error(f"no module {', '.join(unknown)} in guards.toml; one of: {names}")
        modules = [next(m for m in modules if m.name == name) for name in wanted]
    if args.summary:
        print(summary(modules))
        return 0
    if args.collect:
        for module in modules:
            result = _collect(module)
            (RESULTS / f"{module.name}.json").write_text(json.dumps(result, indent=2))
            print(f"mutants: {module.name} (stopped run): {result['counts']}")
        return 0
    if args.survivors and args.remaining:
        parser.error("--survivors or --remaining, not both")
    again = "survivors" if args.survivors else "remaining" if args.remaining else None
    started = time.monotonic()
    for module in modules:
        run_module(module, args.max_children, again)
    print(f"\nmutants: done in {round(time.monotonic() - started)} s\n")
    print(summary(modules))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
