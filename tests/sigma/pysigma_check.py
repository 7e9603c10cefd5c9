#!/usr/bin/env python3
"""Loads Sigma rule files with pySigma and runs every one of pySigma's own
validators over them, the way `sigma check` does.

Usage: pysigma_check.py PATH...   (files, or directories of *.yml)

Prints each problem (a rule pySigma cannot parse, or a validator issue) and
exits 1 if there is any; prints the rule count and exits 0 otherwise. The
pySigma version is pinned in scripts/setup-sigma.sh, which installs it into
target/pysigma: run with PYTHONPATH=target/pysigma.
"""

import importlib.metadata
import sys

from sigma.collection import SigmaCollection
from sigma.validation import SigmaValidator
from sigma.validators.core import validators

# Validators left out, each with the reason. Nothing else is: any other
# issue fails.
EXCLUDED = {
    # A value is quoted where the pack's rule compares text (`x : "0"`):
    # written as a number, Sigma would also let it equal 0.0 or 00.
    "number_as_string",
}


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    collection = SigmaCollection.load_ruleset(paths, collect_errors=True)
    problems = [f"collection: {e}" for e in collection.errors]
    for rule in collection.rules:
        problems.extend(f"{rule.source}: {rule.title}: {e}" for e in rule.errors)
    chosen = [cls for name, cls in sorted(validators.items()) if name not in EXCLUDED]
    validator = SigmaValidator(chosen)
    for issue in validator.validate_rules(iter(collection.rules)):
        problems.append(f"{issue.severity.name}: {issue}")
    for p in problems:
        print(p)
    version = importlib.metadata.version("pysigma")
    print(f"pySigma {version}: {len(collection.rules)} rules, {len(chosen)} validators, {len(problems)} problems")
    return 1 if problems or not collection.rules else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
