#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11+.

    python3 dev.py run     create .venv, migrate the SQLite database, load demo data, serve
    python3 dev.py test    create .venv and run the whole test suite (extra args go to pytest)
    python3 dev.py messages [--check]
                           compile the translations (locale/*/django.po -> .mo) with Babel;
                           --check: fail unless they are compiled, complete and current
    python3 dev.py mutate [PATH ...]
                           mutation testing of the services (all, or the modules under PATH),
                           on PostgreSQL when DATABASE_URL is set

The virtualenv is (re)installed whenever pyproject.toml changes.
"""

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import time
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".installed-from"


def ensure_venv() -> None:
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    digest = hashlib.sha256(pyproject).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not PYTHON.exists():
        print("Creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    project = tomllib.loads(pyproject.decode())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    print("Installing dependencies ...", flush=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + requirements,
        check=True,
    )
    STAMP.write_text(digest)


def manage(*args: str) -> None:
    subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, check=True)


def run() -> int:
    manage("migrate", "--no-input", "-v", "0")
    manage("load_demo")
    print("\nServing on http://127.0.0.1:8000/ (Ctrl-C to stop)\n", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        manage("runserver", "127.0.0.1:8000")
    return 0


def test(args: list[str]) -> int:
    return subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT).returncode


MUTANTS = ROOT / "mutants"
# mutmut's own verdicts, as `mutmut results --all true` prints them, in the order reported.
VERDICTS = ("killed", "survived", "no tests", "timeout", "suspicious")


def mutate(paths: list[str]) -> int:
    """Run mutmut over the services (or the modules under `paths`) and print each module's
    killed / survived / no tests. Every run starts from a fresh copy: a verdict kept from
    before a change of the tests would be stale."""
    started = time.monotonic()
    shutil.rmtree(MUTANTS, ignore_errors=True)
    # loyalty/services/ledger.py -> loyalty.services.ledger; mutant names start with it.
    modules = [path.removesuffix(".py").strip("/").replace("/", ".") for path in paths]
    patterns = [f"{module}.*" for module in modules]
    children = str(min(os.cpu_count() or 1, 2))
    # Each forked test process takes its own PostgreSQL test database (tests/conftest.py).
    env = {**os.environ, "TEST_DATABASE_SLOTS": "1"}
    run = subprocess.run(
        [str(PYTHON), "-m", "mutmut", "run", "--max-children", children, *patterns],
        cwd=ROOT,
        env=env,
    )
    if run.returncode != 0:
        return run.returncode
    results = subprocess.run(
        [str(PYTHON), "-m", "mutmut", "results", "--all", "true"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    counts: dict[str, dict[str, int]] = {}
    for line in results.stdout.splitlines():
        name, _, verdict = line.strip().rpartition(": ")
        module = name.partition("__mutmut_")[0].rpartition(".")[0]
        wanted = not modules or any(module == m or module.startswith(f"{m}.") for m in modules)
        if not module or not wanted:
            continue
        module_counts = counts.setdefault(module, dict.fromkeys(VERDICTS, 0))
        module_counts[verdict] = module_counts.get(verdict, 0) + 1
    print(f"\n{'module':<34}" + "".join(f"{verdict:>12}" for verdict in VERDICTS) + "  killed %")
    for module, module_counts in sorted(counts.items()):
        total = sum(module_counts.values())
        share = 100 * module_counts["killed"] / total if total else 100
        print(
            f"{module:<34}"
            + "".join(f"{module_counts.get(verdict, 0):>12}" for verdict in VERDICTS)
            + f"{share:>9.1f}"
        )
    print(f"\n{time.monotonic() - started:.0f} s in all")
    print("See a mutant with: .venv/bin/python -m mutmut show <name>  (names: mutmut results)")
    return 0


def messages(args: list[str]) -> int:
    action = "check" if args == ["--check"] else "compile"
    return subprocess.run([str(PYTHON), "-m", "config.catalogs", action], cwd=ROOT).returncode


def main() -> int:
    commands = {"run", "test", "mutate", "messages"}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    ensure_venv()
    if sys.argv[1] == "run":
        return run()
    if sys.argv[1] == "mutate":
        return mutate(sys.argv[2:])
    if sys.argv[1] == "messages":
        return messages(sys.argv[2:])
    return test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
