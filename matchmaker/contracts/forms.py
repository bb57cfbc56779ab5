"""The guided drafting's HTML forms <-> body sections.

Every input is named by its dotted path in the body (`objectives.0.indicators.1.target`), so
validation errors land beside the field they concern. A step posts some sections; dicts are
merged over the saved values (hidden questions keep their answers), lists are replaced.
"""

import re
from collections.abc import Iterable
from typing import Any

from matchmaker.contracts.schemas import ContractBody

# (key, English title, sections the step edits)
STEPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("participants", "Participants", ("participants",)),
    ("objectives", "Objectives and indicators", ("objectives",)),
    ("programme", "Programme", ("programme",)),
    ("duration", "Duration, accession, withdrawal", ("duration", "accession", "withdrawal")),
    ("fund", "Common fund", ("common_fund",)),
    ("body", "Common body", ("common_body",)),
    ("network", "Kind, name and seat", ("kind", "network")),
    ("decisions", "Decisions", ("decisions", "programme_amendment")),
    ("other", "Staff, agriculture, disputes", ("staff", "agriculture", "disputes")),
    ("signature", "Form and tax registration", ("form", "tax_registration")),
)
STEP_KEYS = tuple(s[0] for s in STEPS)

BOOLEANS = frozenset({
    "present", "agreed", "dedicated_asset", "acts_for_third_parties", "by_majority",
    "secondment", "co_employment", "agricultural", "mediation",
})
NULLABLE = frozenset({
    "due_date", "value_eur", "amount_eur", "years", "end_date", "notice_days", "term_years",
    "lead", "participant", "unirete_sender", "decided_by", "rule", "form", "goal",
})
LINES = frozenset({"withdrawal.causes", "common_body.board"})
GROUPS = frozenset({"programme.collaboration_forms"})
# Rows of these lists are dropped when every field but the hidden ones is blank.
ROW_LISTS = ("objectives", "programme.activities", "common_fund.contributions",
             "decisions.rules")
NESTED_ROW_LISTS = (("objectives", "indicators"), ("programme.parties", "contributions"))
HIDDEN_IN_ROWS = frozenset({"partita_iva", "goal", "kind", "rule"})


def step_sections(step: str) -> tuple[str, ...]:
    """Return the body sections a step edits."""
    return next(s[2] for s in STEPS if s[0] == step)


def _set(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    node: Any = tree
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        key: Any = int(part) if part.isdigit() else part
        if isinstance(node, list):
            while len(node) <= key:
                node.append({})
            if last:
                node[key] = value
            else:
                if not isinstance(node[key], (dict, list)):
                    node[key] = {}
                node = node[key]
            continue
        if last:
            node[key] = value
            continue
        nxt = parts[i + 1]
        if key not in node or not isinstance(node[key], (dict, list)):
            node[key] = [] if nxt.isdigit() else {}
        node = node[key]


def _leaf(path: str, values: list[str]) -> Any:
    name = path.rsplit(".", 1)[-1]
    if path in GROUPS:
        return [v for v in values if v]
    value = (values[-1] if values else "").strip()
    if path in LINES:
        return [line.strip() for line in value.splitlines() if line.strip()]
    if name in BOOLEANS:
        return value in ("yes", "on", "true", "1")
    if value == "" and name in NULLABLE:
        return None
    if name in ("years", "notice_days", "term_years", "firm_id"):
        return int(value) if value.lstrip("-").isdigit() else value
    if name in ("value_eur", "amount_eur"):
        # Italian writing: "10.000" and "1.500,50" are thousands with a decimal comma.
        text = value.replace(" ", "").replace("\u00a0", "").replace("€", "")
        if re.fullmatch(r"\d{1,3}(\.\d{3})+(,\d+)?", text):
            return text.replace(".", "").replace(",", ".")
        return text.replace(",", ".")
    return value


def _blank(row: Any) -> bool:
    if not isinstance(row, dict):
        return not row
    for k, v in row.items():
        if k in HIDDEN_IN_ROWS:
            continue
        if isinstance(v, list):
            if any(not _blank(x) for x in v):
                return False
        elif isinstance(v, dict):
            if not _blank(v):
                return False
        elif v not in (None, "", False):
            return False
    return True


def _get(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _drop_blank_rows(tree: dict[str, Any]) -> None:
    for outer, inner in NESTED_ROW_LISTS:
        rows = _get(tree, outer)
        if isinstance(rows, list):
            for row in rows:
                if isinstance(row, dict) and isinstance(row.get(inner), list):
                    row[inner] = [r for r in row[inner] if not _blank(r)]
    for dotted in ROW_LISTS:
        rows = _get(tree, dotted)
        if isinstance(rows, list):
            rows[:] = [r for r in rows if not _blank(r)]


def parse(step: str, form: Any, fields: Iterable[str]) -> dict[str, Any]:
    """Turn a step's posted form into the sections it edits (unvalidated values)."""
    sections = step_sections(step)
    tree: dict[str, Any] = {}
    for path in fields:
        if not path.split(".", 1)[0] in sections:
            continue
        _set(tree, path.split("."), _leaf(path, [str(v) for v in form.getlist(path)]))
    _drop_blank_rows(tree)
    return tree


def merge(current: dict[str, Any], posted: dict[str, Any]) -> dict[str, Any]:
    """Lay posted values over the saved ones: dicts merge, lists and leaves are replaced."""
    out = dict(current)
    for key, value in posted.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            out[key] = merge(current[key], value)
        else:
            out[key] = value
    return out


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """Return {dotted.path: text} for filling form fields."""
    out: dict[str, str] = {}
    if prefix in LINES and isinstance(tree, list):
        out[prefix] = "\n".join(str(x) for x in tree)
        return out
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out.update(flatten(v, f"{prefix}.{i}"))
    elif tree is None:
        out[prefix] = ""
    elif isinstance(tree, bool):
        out[prefix] = "yes" if tree else "no"
    else:
        out[prefix] = str(tree)
    return out


def field_names(form: Any) -> list[str]:
    """Return the distinct dotted field names a form posted, in order."""
    seen: dict[str, None] = {}
    for key in form:
        if key not in ("csrf_token", "version", "action", "add_partita_iva", "go"):
            seen.setdefault(key, None)
    return list(seen)


def changes_for(step: str, merged: dict[str, Any]) -> dict[str, Any]:
    """Return the sections a step saves, taken from the merged body."""
    return {k: merged[k] for k in step_sections(step) if k in merged}


def empty_body() -> dict[str, Any]:
    """Return a new body's data (for templates that need every key)."""
    return ContractBody().model_dump(mode="json")
