"""The class report: what a class got wrong, exercise by exercise.

``make report LESSON=NN_name`` (``scripts/report.py``), and the end of
``make autograde``, write ``reports/NN_name.html``, one self-contained page
(figures embedded, no script or style from elsewhere, readable offline), and
the same tables as CSV files beside it:

* the score distribution (``NN_name_scores.csv``: one row per student);
* per test cell: pass rate, mean score, and discrimination, the
  point-biserial correlation of passing the cell with the total score
  (``NN_name_cells.csv``);
* per exercise: the misconceptions ranked by the share of the class whose
  tests diagnosed them, each with its description, an example message, a
  link to the lesson section that explains it, and the students behind it
  (``NN_name_misconceptions.csv``);
* integrity flags, sandbox lines, timeouts and grading errors.

The scores come from the gradebook (sqlite or PostgreSQL, through
nbgrader's models, in a few queries); the diagnoses and flags from the
integrity reports the grader writes for every submission
(``integrity/NN_name/<student>.json``).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .misconceptions import describe

__all__ = ["ClassData", "load", "build_report", "write_report"]

REPORT_DIR = "reports"
# Where a misconception's section is explained: the student version of the
# lesson, rendered beside the report (``lesson_page``), so that the links work
# from the report's folder with nothing else built.
LESSON_URL = "{lesson}_lesson.html#{anchor}"


@dataclass
class ClassData:
    """Everything the report shows, for one lesson."""

    lesson: str
    max_score: float = 0.0
    students: list = field(default_factory=list)        # ids, sorted
    totals: dict = field(default_factory=dict)          # student -> total score
    cells: dict = field(default_factory=dict)           # grade_id -> {student: (score, max)}
    diagnoses: dict = field(default_factory=dict)       # student -> {grade_id: [entry, ...]}
    flags: dict = field(default_factory=dict)           # student -> [flag, ...]
    errors: list = field(default_factory=list)          # students submitted but not graded


def _exercise(grade_id):
    return grade_id.rsplit("_", 1)[0]


def load(root, lesson, db_url):
    """Read the gradebook and the integrity reports of ``lesson`` under ``root``."""
    from nbgrader.api import Assignment, Grade, Gradebook, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy.orm import joinedload

    data = ClassData(lesson)
    with Gradebook(db_url) as gb:
        assignment = gb.find_assignment(lesson)
        data.max_score = float(assignment.max_score)
        rows = (gb.db.query(Grade)
                .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
                .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
                .filter(Assignment.name == lesson)
                .options(joinedload(Grade.cell), joinedload(Grade.notebook)
                         .joinedload(SubmittedNotebook.assignment)))
        for grade in rows:
            student = grade.notebook.assignment.student_id
            score = float(grade.score or 0.0)
            data.cells.setdefault(grade.cell.name, {})[student] = (score, float(grade.max_score))
            data.totals[student] = data.totals.get(student, 0.0) + score
    data.students = sorted(data.totals)
    report_dir = Path(root) / "integrity" / lesson
    for path in sorted(report_dir.glob("*.json")) if report_dir.is_dir() else ():
        report = json.loads(path.read_text())
        student = report.get("student", path.stem)
        data.flags[student] = report.get("flags", [])
        data.diagnoses[student] = report.get("diagnoses", {})
    submitted = Path(root) / "submitted"
    if submitted.is_dir():
        data.errors = sorted(d.name for d in submitted.iterdir()
                             if (d / lesson).is_dir() and d.name not in data.totals)
    return data


# --------------------------------------------------------------------------
# The tables


def score_rows(data):
    rows = []
    for student in data.students:
        flags = data.flags.get(student, [])
        timeouts = sum(code in ("cell_timeout", "time_limit") for code in _codes_of_student(data, student))
        rows.append({"student": student, "score": data.totals[student], "max_score": data.max_score,
                     "integrity_flags": sum(f["kind"] not in ("screen", "sandbox") for f in flags),
                     "review_flags": sum(f["kind"] == "screen" for f in flags),
                     "sandbox_flags": sum(f["kind"] == "sandbox" for f in flags),
                     "timeouts": timeouts})
    return rows


def _codes_of_student(data, student):
    for entries in data.diagnoses.get(student, {}).values():
        for entry in entries:
            yield from entry.get("codes", [])


def _point_biserial(passed, totals):
    """Correlation of a 0/1 item with the total score (0 when either is constant)."""
    n = len(passed)
    if n < 2:
        return float("nan")
    mean_t = sum(totals) / n
    sd_t = math.sqrt(sum((t - mean_t) ** 2 for t in totals) / n)
    p = sum(passed) / n
    if sd_t == 0 or p in (0.0, 1.0):
        return 0.0
    mean_1 = sum(t for t, x in zip(totals, passed) if x) / sum(passed)
    mean_0 = sum(t for t, x in zip(totals, passed) if not x) / (n - sum(passed))
    return (mean_1 - mean_0) / sd_t * math.sqrt(p * (1 - p))


def cell_rows(data):
    rows = []
    for grade_id in sorted(data.cells, key=_cell_order(data)):
        scores = data.cells[grade_id]
        students = [s for s in data.students if s in scores]
        passed = [scores[s][0] >= scores[s][1] for s in students]
        totals = [data.totals[s] for s in students]
        n = len(students)
        rows.append({"test_cell": grade_id, "exercise": _exercise(grade_id),
                     "points": scores[students[0]][1] if students else 0.0,
                     "pass_rate": sum(passed) / n if n else float("nan"),
                     "mean_score": sum(scores[s][0] for s in students) / n if n else float("nan"),
                     "discrimination": _point_biserial([int(x) for x in passed], totals)})
    return rows


def _cell_order(data):
    # The order of the lesson: the cells' order of first appearance is not
    # kept by the gradebook, so sort by exercise, visible before hidden.
    return lambda gid: (gid.rsplit("_", 1)[0], 0 if gid.endswith("_visible") else 1, gid)


def misconception_rows(data):
    """Per exercise, the codes diagnosed, ranked by the share of the class."""
    n = len(data.students)
    per = defaultdict(lambda: defaultdict(set))        # exercise -> code -> students
    example = {}
    for student in data.students:
        for grade_id, entries in data.diagnoses.get(student, {}).items():
            for entry in entries:
                for code in entry.get("codes", []):
                    per[_exercise(grade_id)][code].add(student)
                    if entry.get("message") and (_exercise(grade_id), code) not in example:
                        example[(_exercise(grade_id), code)] = entry["message"]
    rows = []
    for exercise in sorted(per):
        ranked = sorted(per[exercise].items(), key=lambda kv: (-len(kv[1]), kv[0]))
        for rank, (code, students) in enumerate(ranked, 1):
            description, section = describe(code, data.lesson)
            rows.append({"exercise": exercise, "rank": rank, "code": code,
                         "students": len(students), "share": len(students) / n if n else 0.0,
                         "description": description, "section": section,
                         "example": example.get((exercise, code), ""),
                         "who": sorted(students)})
    return rows


# --------------------------------------------------------------------------
# The page


def _figure_png(data):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    totals = [data.totals[s] for s in data.students]
    top = max(data.max_score, 1.0)
    bins = [x - 0.5 for x in range(int(math.ceil(top)) + 2)]
    ax.hist(totals, bins=bins, color="#3b6ea8", edgecolor="white")
    ax.set_xlim(-0.5, top + 0.5)
    ax.set_xlabel(f"total score (out of {data.max_score:g})")
    ax.set_ylabel("students")
    ax.set_title(f"{data.lesson}: scores of {len(totals)} submissions")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode()


TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Class report: {{ lesson }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
details summary { cursor: pointer; color: #3b6ea8; }
code { background: #f4f4f4; padding: 0 0.2em; }
.example { font-size: 0.9em; color: #555; max-width: 40em; }
</style>
</head>
<body>
<h1>Class report: {{ lesson }}</h1>
<p>{{ n }} graded submissions; mean score {{ "%.2f"|format(mean) }} of {{ max_score|round(2) }};
generated {{ when }}{% if errors %}; {{ errors|length }} submission(s) could not be graded{% endif %}.</p>

<h2 id="scores">Score distribution</h2>
<img src="data:image/png;base64,{{ figure }}" alt="{{ figure_alt }}">

<h2 id="cells">Test cells</h2>
<table id="cells-table">
<tr><th>test cell</th><th>points</th><th>pass rate</th><th>mean score</th><th>discrimination</th></tr>
{% for row in cells %}
<tr><td><code>{{ row.test_cell }}</code></td><td class="num">{{ row.points|round(2) }}</td>
<td class="num">{{ "%.0f%%"|format(100 * row.pass_rate) }}</td>
<td class="num">{{ "%.2f"|format(row.mean_score) }}</td>
<td class="num">{{ "%.2f"|format(row.discrimination) }}</td></tr>
{% endfor %}
</table>
<p>Discrimination is the point-biserial correlation of passing the cell with the total score:
near 0, the cell does not separate strong from weak submissions.</p>

<h2 id="misconceptions">Misconceptions, by exercise</h2>
{% for exercise, rows in misconceptions %}
<h3 id="exercise-{{ exercise }}"><code>{{ exercise }}</code></h3>
<table class="misconceptions" data-exercise="{{ exercise }}">
<tr><th>share</th><th>students</th><th>misconception</th><th>example message</th></tr>
{% for row in rows %}
<tr data-code="{{ row.code }}"><td class="num">{{ "%.1f%%"|format(100 * row.share) }}</td>
<td class="num"><details><summary>{{ row.students }}</summary>{{ row.who|join(", ") }}</details></td>
<td><code>{{ row.code }}</code>: {{ row.description }}{% if row.section %}
(<a href="{{ row.link }}">{{ row.section }}</a>){% endif %}</td>
<td class="example">{{ row.example }}</td></tr>
{% endfor %}
</table>
{% else %}
<p>No failing test was diagnosed.</p>
{% endfor %}

<h2 id="flags">Integrity, sandbox, timeouts and errors</h2>
<table id="flags-table">
<tr><th>student</th><th>cell</th><th>kind</th><th>detail</th></tr>
{% for row in flags %}
<tr><td>{{ row.student }}</td><td>{{ row.cell }}</td><td>{{ row.kind }}</td><td>{{ row.detail }}</td></tr>
{% else %}
<tr><td colspan="4">none</td></tr>
{% endfor %}
</table>
{% if errors %}<p>Not graded (see the grading log): {{ errors|join(", ") }}</p>{% endif %}
</body>
</html>
"""


def build_report(data, lesson_url=LESSON_URL):
    """The report's HTML (a string), and its tables."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    rows = misconception_rows(data)
    for row in rows:
        row["link"] = (lesson_url.format(lesson=data.lesson, anchor=_anchor(row["section"]))
                       if row["section"] else "")
    grouped = defaultdict(list)
    for row in rows:
        grouped[row["exercise"]].append(row)
    flags = []
    for student in data.students + [s for s in data.flags if s not in data.totals]:
        for flag in data.flags.get(student, []):
            if flag["kind"] != "screen":
                flags.append({"student": student, **flag})
        for grade_id, entries in data.diagnoses.get(student, {}).items():
            for entry in entries:
                if set(entry.get("codes", [])) & {"cell_timeout", "time_limit", "kernel_stopped"}:
                    flags.append({"student": student, "cell": grade_id, "kind": "timeout",
                                  "detail": ", ".join(entry["codes"])})
    totals = [data.totals[s] for s in data.students]
    cells = cell_rows(data)
    page = env.from_string(TEMPLATE).render(
        lesson=data.lesson, n=len(totals), mean=sum(totals) / len(totals) if totals else 0.0,
        max_score=data.max_score, when=time.strftime("%Y-%m-%d %H:%M"), errors=data.errors,
        figure=_figure_png(data),
        figure_alt=(f"Histogram of the total scores of {len(totals)} submissions to {data.lesson}, "
                    f"out of {data.max_score:g}."),
        cells=cells, misconceptions=sorted(grouped.items()), flags=flags)
    return page, {"scores": score_rows(data), "cells": cells, "misconceptions": rows}


def _anchor(section):
    """The id of a heading in the rendered lesson (nbconvert's, as in the
    feedback pages)."""
    from .preprocessors import feedback_anchor

    return feedback_anchor(section)


def lesson_page(root, lesson, out):
    """Render the student version of ``lesson`` (``lessons/``) to
    ``out/<lesson>_lesson.html``, the page the report's links point into;
    re-rendered only when the lesson changed. Without a network its
    formulas show as TeX source (MathJax is not bundled)."""
    from nbconvert import HTMLExporter

    source = Path(root) / "lessons" / lesson / f"{lesson}.ipynb"
    target = Path(out) / f"{lesson}_lesson.html"
    if not source.exists():
        return None
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    body, _ = HTMLExporter(template_name="lab").from_filename(str(source))
    target.write_text(body)
    return target


def write_report(root, lesson, db_url, out_dir=None, lesson_url=LESSON_URL, with_lesson=True):
    """Write the HTML report, its CSV files and (for the default links, unless
    ``with_lesson`` is false) the lesson's page; returns the report's path."""
    data = load(root, lesson, db_url)
    page, tables = build_report(data, lesson_url)
    out = Path(out_dir or Path(root) / REPORT_DIR)
    out.mkdir(parents=True, exist_ok=True)
    if with_lesson and lesson_url == LESSON_URL:
        lesson_page(root, lesson, out)
    path = out / f"{lesson}.html"
    path.write_text(page)
    for name, rows in tables.items():
        with open(out / f"{lesson}_{name}.csv", "w", newline="") as f:
            if not rows:
                f.write("")
                continue
            writer = csv.DictWriter(f, list(rows[0]))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("; ".join(v) if isinstance(v, list) else v) for k, v in row.items()})
    return path
