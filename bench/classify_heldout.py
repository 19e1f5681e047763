"""How well the classifier generalizes: its accuracy and `unknown` rate on labelled corpora of real failure
messages, by default the held-out set (tests/monitor/classify/data/heldout_failures.jsonl, collected from sources the
rules were not written from) and, separately, the messages the rules were written from (real_failures.jsonl).

A case is right when the classifier's category is its `expected` one, or its `also` one where the text honestly
supports two; `strict` counts `expected` alone. The same cases through the command line give the same answers:

    cxgm classify --jsonl tests/monitor/classify/data/heldout_failures.jsonl

    .venv/bin/python bench/classify_heldout.py [--misses] [--rules RULES.toml] [CORPUS.jsonl ...]

`--rules` scores one rules file alone instead of the packaged rules (and $CXGM_CLASSIFIER_RULES), e.g. the rules
as they were before this corpus was measured: `git show 2c6f679:cxgm_pipeline/monitor/classifier_rules.toml`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cxgm_pipeline.monitor.classify.classifier import diagnose, read_rules
from cxgm_pipeline.monitor.classify.logparse import parse_text

DATA = Path(__file__).resolve().parents[1] / "tests" / "monitor" / "classify" / "data"
# "late", "late 2" and "late 3": collected after the rules were frozen, from sources no other corpus uses, and scored before
# any rule changed; their first scores are the least biased (docs/classification.md records them).
CORPORA = {"held-out": DATA / "heldout_failures.jsonl", "written from": DATA / "real_failures.jsonl",
           "late": DATA / "late_failures.jsonl", "late 2": DATA / "late2_failures.jsonl",
           "late 3": DATA / "late3_failures.jsonl"}


@dataclass
class Score:
    cases: int = 0
    right: int = 0
    strict: int = 0
    unknown: int = 0
    misses: list[str] = field(default_factory=list)
    confusion: Counter = field(default_factory=Counter)  # (expected, got) of the misses

    def line(self, name: str) -> str:
        pct = lambda n: f"{100 * n / self.cases:.1f}%" if self.cases else "n/a"  # noqa: E731
        return (f"{name}: {self.cases} cases, {self.right} right ({pct(self.right)}), strict {self.strict} "
                f"({pct(self.strict)}), {self.unknown} unknown ({pct(self.unknown)})")


def read_cases(path: Path) -> list[dict]:
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for case in cases:  # real_failures.jsonl names its label `category`
        case.setdefault("expected", case.get("category"))
    return cases


def score(cases: list[dict], rules=None) -> Score:
    result = Score()
    for n, case in enumerate(cases, 1):
        log = parse_text(case["log"]) if case.get("log") else None
        found = diagnose(case.get("status_reason"), case.get("container_reason"), log, rules)
        got = found.category.value
        result.cases += 1
        result.strict += got == case["expected"]
        result.unknown += got == "unknown"
        if got in (case["expected"], case.get("also")):
            result.right += 1
        else:
            result.confusion[(case["expected"], got)] += 1
            result.misses.append(f"#{n} expected {case['expected']}{'/' + case['also'] if case.get('also') else ''}, "
                                 f"got {got} ({found.evidence}) [{case.get('source')}]")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", nargs="*", type=Path, help="JSONL corpora (default: all five)")
    parser.add_argument("--misses", action="store_true", help="list every miss with the evidence")
    parser.add_argument("--rules", type=Path, help="score this rules file alone, not the packaged rules")
    args = parser.parse_args(argv)
    rules = tuple(read_rules(args.rules)) if args.rules else None
    named = {str(p): p for p in args.corpora} or CORPORA
    for name, path in named.items():
        result = score(read_cases(path), rules)
        print(result.line(name))
        if args.misses:
            for miss in result.misses:
                print("   ", miss)
            for (expected, got), n in result.confusion.most_common():
                print(f"    {n} x {expected} -> {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
