"""The public surface: `__all__` matches what is exported, and the runtime modules import no heavy dependencies."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import spam_classifier
from conftest import make_test_artifact

PACKAGE_DIR = Path(spam_classifier.__file__).parent
#: Modules that are scripts, not importable API: `python -m spam_classifier` runs cli.main on import.
_SCRIPTS = {"spam_classifier.__main__"}

_NUMERIC = ("sklearn", "numpy", "scipy", "joblib")
_AWS = ("boto3", "botocore")
#: Loaded only when an hf:// model URI is used.
_HUB = ("huggingface_hub", "httpx2", "hf_xet")
#: Only spam_classifier.spark uses these, and only inside its functions (issue #12).
_SPARK = ("pyspark", "py4j", "pyarrow", "pandas")


def _module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _parse(module: str) -> ast.Module:
    relative = Path(*module.split(".")[1:])
    path = (
        PACKAGE_DIR / relative / "__init__.py"
        if (PACKAGE_DIR / relative).is_dir()
        else (PACKAGE_DIR / relative.with_suffix(".py"))
    )
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _dunder_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets):
            return ast.literal_eval(node.value)  # type: ignore[arg-type]
    return None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _run_fresh(code: str, **env: str) -> list[str]:
    """Run `code` in a fresh interpreter; it must print a JSON list (of module names)."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _loaded(modules: list[str], roots: tuple[str, ...]) -> list[str]:
    return [name for name in modules if name.split(".")[0] in roots]


# --- __all__ -----------------------------------------------------------------------------------------------------


def test_package_all_lists_exactly_the_exported_public_names() -> None:
    exported = [
        name
        for name, value in vars(spam_classifier).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    ]
    assert spam_classifier.__all__ == sorted(exported)


def test_package_all_names_are_objects_not_submodules() -> None:
    import spam_classifier.preprocess  # the submodule must not shadow the function of the same name

    assert [name for name in spam_classifier.__all__ if isinstance(getattr(spam_classifier, name), ModuleType)] == []
    assert spam_classifier.preprocess("fish &amp; chips").startswith("fish & chips\n")


def test_module_names_cover_the_package() -> None:
    names = _module_names()
    assert {"spam_classifier", "spam_classifier.scorer", "spam_classifier.store.s3", "spam_classifier.corpora"} <= set(
        names
    )


@pytest.mark.parametrize("module", [name for name in _module_names() if name not in _SCRIPTS])
def test_module_has_all_and_every_name_in_it_exists(module: str) -> None:
    tree = _parse(module)
    names = _dunder_all(tree)
    assert names is not None, f"{module} has no __all__"
    assert len(names) == len(set(names)), f"{module}.__all__ lists a name twice"
    assert sorted(set(names) - _top_level_names(tree)) == []


# --- the import boundary -----------------------------------------------------------------------------------------

_RUNTIME_MODULES = [
    "spam_classifier",
    "spam_classifier.scorer",
    "spam_classifier.artifact",
    "spam_classifier.preprocess",
    "spam_classifier.store",
    "spam_classifier.store.hf",
    "spam_classifier.app",
    "spam_classifier.aws_lambda",
    "spam_classifier.source",
    "spam_classifier.config",
    "spam_classifier.feedback",
    "spam_classifier.batch",
    "spam_classifier.spark",
]


@pytest.mark.parametrize("module", _RUNTIME_MODULES)
def test_runtime_module_imports_no_numeric_stack_no_boto3_no_hub_client_and_no_spark(module: str,
                                                                                     tmp_path: Path) -> None:
    make_test_artifact(tmp_path / "model")  # aws_lambda loads MODEL_URI at import
    modules = _run_fresh(
        f"import json, sys, importlib; importlib.import_module({module!r}); print(json.dumps(sorted(sys.modules)))",
        MODEL_URI=str(tmp_path / "model"),
    )
    assert module in modules
    assert _loaded(modules, _NUMERIC + _AWS + _HUB + _SPARK) == []


_OPEN_S3 = """
import json, sys
from spam_classifier.store import open_store
before = sorted(sys.modules)
store = open_store("s3://models-bucket/prefix")
print(json.dumps(before))
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize(
    ("static_keys", "loads_boto3"),
    [(True, False), (False, True)],
    ids=["static-keys-read-without-boto3", "other-credentials-need-boto3"],
)
def test_opening_an_s3_store_loads_boto3_only_without_static_keys(tmp_path, static_keys, loads_boto3) -> None:
    """With keys and region in the environment (as on Lambda) reads skip boto3; otherwise boto3 is the client."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(tmp_path / "none")})
    if static_keys:
        env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    else:
        credentials = tmp_path / "credentials"
        credentials.write_text("[default]\naws_access_key_id = test\naws_secret_access_key = test\n")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)
    result = subprocess.run([sys.executable, "-c", _OPEN_S3], capture_output=True, text=True, check=False,
                            timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    before, after = (json.loads(line) for line in result.stdout.strip().splitlines()[-2:])
    assert _loaded(before, _AWS) == []
    assert ("boto3" in after) is loads_boto3
    assert _loaded(after, _NUMERIC) == []
