"""Known-vulnerability check of the pinned runtime dependencies, against the advisories PyPI publishes.

pip-audit would be the tool, but from this project's machines PyPI answers the per-version JSON
endpoint it needs (`/pypi/<name>/<version>/json`) with 404 and OSV is unreachable, so pip-audit
silently audits nothing. The project endpoint (`/pypi/<name>/json`) does answer, with the
advisories that affect the latest release. So:

- a pin that is the latest release is audited exactly: any advisory fails the check;
- an older pin is reported as not auditable here (it still passes: its advisories are unknowable);
- no answer from PyPI at all fails the check, since an audit that saw nothing must not pass.

Usage: python scripts/audit.py [requirements.txt]
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def _pins(path: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for line in path.read_text().splitlines() if (m := _PIN.match(line.strip()))]


def _project(name: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=20) as response:
            return json.load(response)
    except (urllib.error.URLError, TimeoutError, ValueError):
        return None


def main() -> int:
    requirements = Path(sys.argv[1] if len(sys.argv) > 1 else "requirements.txt")
    pins = _pins(requirements)
    audited, skipped, vulnerable, unreachable = [], [], [], []
    for name, version in pins:
        project = _project(name)
        if project is None:
            unreachable.append(name)
            continue
        latest = project["info"]["version"]
        if version != latest:
            skipped.append(f"{name}=={version} (latest {latest})")
            continue
        audited.append(name)
        for advisory in project.get("vulnerabilities") or []:
            vulnerable.append(f"{name}=={version}: {advisory.get('id')} {advisory.get('summary') or ''}".strip())
    print(f"audit: {len(pins)} pins in {requirements}; {len(audited)} audited against PyPI advisories")
    for line in skipped:
        print(f"audit: not auditable here (PyPI lists advisories for the latest release only): {line}")
    for line in vulnerable:
        print(f"audit: VULNERABLE {line}")
    if unreachable:
        print(f"audit: PyPI did not answer for: {', '.join(unreachable)}", file=sys.stderr)
    if vulnerable or unreachable or not audited:
        return 1
    print("audit: no known vulnerabilities in the audited pins")
    return 0


if __name__ == "__main__":
    sys.exit(main())
