"""JUnit XML rendered from a run record, written beside run.json.

Rendered from the record rather than by pytest's --junitxml so both always agree and each test
case names the requirements it judged (a ``requirements`` property, one ``requirement`` per ID).
pytest's own --junitxml still works alongside, wherever the user points it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _split(nodeid: str) -> tuple[str, str]:
    path, _, name = nodeid.partition("::")
    module = path[:-3] if path.endswith(".py") else path
    if "::" in name:  # Class::method
        cls, _, name = name.rpartition("::")
        module = f"{module}.{cls.replace('::', '.')}"
    return module.replace("/", "."), name


def render(record: Mapping[str, Any]) -> bytes:
    run, target, summary = record["run"], record["target"], record["summary"]["tests"]
    suite = ET.Element("testsuite", {
        "name": f"chatconform {run['name']}",
        "tests": str(summary["total"]),
        "failures": str(summary["failed"]),
        "errors": str(summary["error"]),
        "skipped": str(summary["skipped"]),
        "time": f"{run['duration_seconds']:.3f}",
        "timestamp": run["started"],
    })
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("target", target["name"]), ("base_url", target.get("base_url") or "(embedded reference server)"),
        ("model", target.get("model") or ""), ("profile", target["profile"]),
        ("chatconform", record["versions"]["chatconform"]), ("spec", record["versions"]["spec"]),
        ("must_score", "" if record["summary"]["must"]["score"] is None else str(record["summary"]["must"]["score"])),
    ):
        ET.SubElement(props, "property", {"name": key, "value": str(value)})
    for test in record["tests"]:
        classname, name = _split(test["nodeid"])
        case = ET.SubElement(suite, "testcase", {
            "classname": classname, "name": name, "time": f"{test.get('duration_seconds', 0):.3f}",
        })
        if test["requirements"]:
            case_props = ET.SubElement(case, "properties")
            for rid in test["requirements"]:
                ET.SubElement(case_props, "property", {"name": "requirement", "value": rid})
        message = test.get("message", "")
        first = next((line.strip() for line in message.splitlines() if line.strip()), "")
        if test["outcome"] == "failed":
            ET.SubElement(case, "failure", {"message": first[:500]}).text = message
        elif test["outcome"] == "error":
            ET.SubElement(case, "error", {"message": first[:500]}).text = message
        elif test["outcome"] == "skipped":
            ET.SubElement(case, "skipped", {"message": first[:500]})
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write(record: Mapping[str, Any], path: str | Path) -> None:
    Path(path).write_bytes(render(record))
