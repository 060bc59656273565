"""Build an AWS Lambda deployment package (a folder to zip): sources, pinned wheels, .pyc for the target Python.

`sam build -t deploy/template.yaml` runs this through deploy/Makefile; it also runs on its own:

    python3.12 scripts/build_lambda.py --out build/lambda \\
        --source src/spam_classifier --requirements deploy/requirements-lambda.txt --pure

Steps, each one checked:

1. install the pinned requirements for the target (``--platform manylinux_2_28_<arch> --only-binary=:all:
   --python-version X.Y --no-deps``; uv when it is on PATH, else pip), without compiling them. The python3.12
   and python3.13 runtimes run on Amazon Linux 2023 (glibc 2.34), so manylinux_2_28 wheels and older fit;
2. copy the sources, leaving out ``__pycache__``, ``*.pyc``, ``*.joblib`` (the pickled pipeline is never served)
   and ``tests``; strip ``tests`` folders and ``bin/`` from the installed packages too;
3. compile every ``.py`` with the target interpreter (`sys.executable`, plus any ``--also-compile-with``), as
   unchecked-hash .pyc: Lambda's code folder is read-only, so without them every cold start compiles again;
4. print a size report: unzipped and zipped MB, file count, largest entries.

The interpreter that runs this script is the target: run it with python3.12 for the python3.12 runtime.
``--pure`` fails the build if a compiled extension (``.so``) got in, which keeps the package valid for
both arm64 and x86_64.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PackageReport", "build_package", "main", "measure_package"]

_IGNORED_SOURCES = ("__pycache__", "*.pyc", "*.pyo", "*.joblib", "tests", ".pytest_cache", ".mypy_cache")
_ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}
#: The newest manylinux glibc the python3.12/3.13 runtimes (Amazon Linux 2023, glibc 2.34) accept that wheels use.
_GLIBC = "2_28"


@dataclass(frozen=True)
class PackageReport:
    """What a built package weighs: bytes on disk unzipped and zipped, files, and the heaviest top-level entries."""

    path: Path
    unzipped_bytes: int
    zipped_bytes: int
    files: int
    largest: list[tuple[str, int]]

    def format(self) -> str:
        lines = [
            f"package {self.path}: {self.unzipped_bytes / 1e6:.2f} MB unzipped, {self.zipped_bytes / 1e6:.2f} MB "
            f"zipped, {self.files} files",
            "largest entries:",
        ]
        lines += [f"  {size / 1e6:9.2f} MB  {name}" for name, size in self.largest]
        return "\n".join(lines)


def build_package(
    out: Path,
    *,
    sources: list[Path],
    requirements: Path | None = None,
    arch: str = "x86_64",
    also_compile_with: Sequence[str] = (),
    pure: bool = False,
    installer: str = "auto",
) -> PackageReport:
    """Build the package into `out` (created, or empty) and return its size report."""
    if arch not in _ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(_ARCHITECTURES)}, not {arch!r}")
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise SystemExit(f"build_lambda: {out} is not empty; remove it or pick another --out")
    if requirements is not None:
        _install(requirements, out, arch=arch, installer=installer)
        _strip(out)
    for source in sources:
        target = out / source.name
        if target.exists():
            raise SystemExit(f"build_lambda: {source.name} is both a source and an installed requirement")
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(*_IGNORED_SOURCES))
        else:
            shutil.copy2(source, target)
    if pure:
        native = sorted(str(path.relative_to(out)) for path in out.rglob("*.so"))
        if native:
            raise SystemExit(
                f"build_lambda: --pure, but compiled extensions got in ({', '.join(native[:5])}); the package would "
                "only run on one architecture"
            )
    for interpreter in [sys.executable, *also_compile_with]:
        _compile(out, interpreter)
    return measure_package(out)


def measure_package(path: Path, *, top: int = 8) -> PackageReport:
    """Size a built package folder: unzipped bytes, bytes once zipped (deflate, as `sam package` does), files."""
    sizes: dict[str, int] = {}
    total = files = 0
    with tempfile.TemporaryFile() as scratch:
        with zipfile.ZipFile(scratch, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                relative = file.relative_to(path)
                size = file.stat().st_size
                total += size
                files += 1
                sizes[relative.parts[0]] = sizes.get(relative.parts[0], 0) + size
                archive.write(file, relative.as_posix())
        zipped = scratch.tell()
    largest = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:top]
    return PackageReport(path=path, unzipped_bytes=total, zipped_bytes=zipped, files=files, largest=largest)


def _install(requirements: Path, out: Path, *, arch: str, installer: str) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    machine = _ARCHITECTURES[arch]
    uv = shutil.which("uv") if installer in ("auto", "uv") else None
    if installer == "uv" and uv is None:
        raise SystemExit("build_lambda: --installer uv, but uv is not on PATH")
    if uv is not None:
        command = [
            uv, "pip", "install", "--quiet", "--target", str(out), "--python", sys.executable,
            "--python-platform", f"{machine}-manylinux_{_GLIBC}", "--python-version", version,
            "--only-binary", ":all:", "--no-deps", "-r", str(requirements),
        ]  # fmt: skip
    else:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(out),
            "--platform", f"manylinux_{_GLIBC}_{machine}", "--platform", f"manylinux2014_{machine}",
            "--implementation", "cp", "--python-version", version,
            "--only-binary=:all:", "--no-compile", "--no-deps", "-r", str(requirements),
        ]  # fmt: skip
    subprocess.run(command, check=True)


def _strip(out: Path) -> None:
    """Remove what no Lambda invocation reads: test suites, console scripts, caches."""
    for pattern in ("**/tests", "**/__pycache__"):
        for path in sorted(out.glob(pattern), reverse=True):
            if path.is_dir():
                shutil.rmtree(path)
    shutil.rmtree(out / "bin", ignore_errors=True)
    (out / ".lock").unlink(missing_ok=True)  # uv's lock for --target


def _compile(out: Path, interpreter: str) -> None:
    """Compile every module with `interpreter`; unchecked-hash .pyc stay valid whatever mtimes the zip gives."""
    command = [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"build_lambda: compiling with {interpreter} failed:\n{result.stdout}{result.stderr}")
    tag = subprocess.run(
        [interpreter, "-c", "import sys; print(sys.implementation.cache_tag)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    missing = [
        str(module.relative_to(out))
        for module in out.rglob("*.py")
        if not (module.parent / "__pycache__" / f"{module.stem}.{tag}.pyc").is_file()
    ]
    if missing:
        raise SystemExit(f"build_lambda: no {tag} .pyc for {len(missing)} modules, e.g. {missing[:3]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the package folder to create (must be empty)")
    parser.add_argument("--source", type=Path, action="append", default=[], help="a package folder or module to copy")
    parser.add_argument("--requirements", type=Path, help="pinned requirements file (every dependency listed)")
    parser.add_argument("--arch", choices=sorted(_ARCHITECTURES), default="x86_64", help="Lambda architecture")
    parser.add_argument("--also-compile-with", action="append", default=[], help="another interpreter to compile for")
    parser.add_argument("--pure", action="store_true", help="fail if a compiled extension (.so) gets in")
    parser.add_argument("--installer", choices=("auto", "uv", "pip"), default="auto")
    args = parser.parse_args(argv)
    report = build_package(
        args.out,
        sources=args.source,
        requirements=args.requirements,
        arch=args.arch,
        also_compile_with=args.also_compile_with,
        pure=args.pure,
        installer=args.installer,
    )
    print(f"build_lambda: built for {sys.implementation.cache_tag} ({sys.executable})")
    print(report.format())


if __name__ == "__main__":
    main()
