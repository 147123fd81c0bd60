"""Reading files that come from outside (rate files, bank statements): a size limit said in words, and XML parsed
without entities, DTDs or network access, each failure raised as the caller's own error naming the file."""

from __future__ import annotations

from lxml import etree

MAX_FILE_BYTES = 50 * 1024 * 1024


def size_text(limit: int) -> str:
    """A byte limit as people read it: "50 MB", or "1,024 bytes" below one megabyte."""
    megabytes = limit / (1024 * 1024)
    return f"{megabytes:g} MB" if megabytes >= 1 else f"{limit:,} bytes"


def check_size(size: int, label: str, error: type[Exception], limit: int = MAX_FILE_BYTES) -> None:
    """Raise `error("<label>: larger than 50 MB")` past the limit."""
    if size > limit:
        raise error(f"{label}: larger than {size_text(limit)}")


def parse_xml(content: bytes, label: str, error: type[Exception]):
    """The root element of untrusted XML; entities stay unexpanded and nothing is fetched."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise error(f"{label}: not well-formed XML ({exc})") from None
