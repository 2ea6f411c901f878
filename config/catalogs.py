"""The message catalogues of the customer pages: locale/<lang>/LC_MESSAGES/django.po, compiled
to the .mo files Django reads. Both are committed, so a fresh clone serves every language.

    python -m config.catalogs compile   .po -> .mo with Babel (pure Python: GNU gettext's
                                        msgfmt need not be installed)
    python -m config.catalogs check     fail unless every .mo holds what its .po says, and
                                        every message is translated and none is fuzzy; with
                                        GNU gettext installed, also unless the .po files hold
                                        exactly the strings `makemessages` finds in the code

`python3 dev.py messages [--check]` runs these in the project's virtualenv.
"""

import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "locale"
# English is the source language: it has no catalogue of its own.
LANGUAGES = ["fr", "de", "lb"]
# The operators' and merchants' admin (with its analytics pages) speaks English only.
ENGLISH_ONLY = [
    "templates/admin/analytics/*",
    "templates/admin/loyalty/*",
    "templates/admin/merchants/*",
    "loyalty/admin/*",
    "loyalty/analytics/*",
]


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "django.po"


def read_catalog(path: Path, reader=read_po):
    with path.open("rb") as f:
        return reader(f)


def compile_catalogs() -> None:
    for language in LANGUAGES:
        catalog = read_catalog(po_path(language))
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        po_path(language).with_suffix(".mo").write_bytes(buffer.getvalue())
        print(f"compiled {po_path(language).with_suffix('.mo').relative_to(ROOT)}")


def _translations(catalog) -> dict:
    # (From a .mo file a plural's forms come back as lists and a context as bytes.)
    def plain(value):
        if isinstance(value, bytes):
            return value.decode()
        return tuple(value) if isinstance(value, list | tuple) else value

    return {
        (plain(message.context), plain(message.id)): plain(message.string)
        for message in catalog
        if message.id and not message.fuzzy
    }


def check_catalogs() -> list[str]:
    problems = []
    for language in LANGUAGES:
        po, mo = po_path(language), po_path(language).with_suffix(".mo")
        source = read_catalog(po)
        for message in source:
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.fuzzy or not all(strings):
                problems.append(f"{po.relative_to(ROOT)}: not translated: {message.id!r}")
        if not mo.exists():
            problems.append(f"{mo.relative_to(ROOT)} is missing: run python3 dev.py messages")
            continue
        compiled = read_catalog(mo, read_mo)
        if (
            _translations(compiled) != _translations(source)
            or compiled.plural_forms != source.plural_forms
        ):
            problems.append(
                f"{mo.relative_to(ROOT)} does not match {po.name}: run python3 dev.py messages"
            )
    return problems


def check_extraction() -> list[str]:
    """Run makemessages on a copy of the work tree without catalogues, and compare the
    strings it finds with those of the committed .po files."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    problems = []
    with tempfile.TemporaryDirectory() as copy:
        for name in filter(None, files):
            path = Path(os.fsdecode(name))
            if path.parts[0] == "locale" or not (ROOT / path).is_file():
                continue
            (Path(copy) / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, Path(copy) / path)
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "--no-location", "-v", "0"]
            + [f"--locale={language}" for language in LANGUAGES]
            + [f"--ignore={pattern}" for pattern in ENGLISH_ONLY],
            cwd=copy,
            check=True,
        )
        for language in LANGUAGES:
            found = set(
                _translations(read_catalog(Path(copy) / po_path(language).relative_to(ROOT)))
            )
            committed = set(_translations(read_catalog(po_path(language))))
            for _context, message_id in sorted(found - committed, key=str):
                problems.append(f"{language}: not in the catalogue: {message_id!r}")
            for _context, message_id in sorted(committed - found, key=str):
                problems.append(f"{language}: no longer in the code: {message_id!r}")
    return problems


def main(argv: list[str]) -> int:
    if argv == ["compile"]:
        compile_catalogs()
        return 0
    if argv == ["check"]:
        problems = check_catalogs()
        if shutil.which("xgettext"):
            problems += check_extraction()
        else:
            print("GNU gettext is not installed: the strings of the code were not compared.")
        for problem in problems:
            print(problem)
        if not problems:
            print(f"catalogues complete and compiled: {', '.join(LANGUAGES)}")
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
