"""Wire forms of plain DNS queries and answers, through dnspython's pieces but without a Message.

:func:`query_wire` is ``Message.to_wire()`` for a query that is just a header and one question
(the renderer's machinery costs more than the query's 30-odd bytes).

``dns.message.from_wire`` builds a whole ``Message``: RRsets in sets (which hashes every rdata
through its canonical wire form), a lookup per record, then the resolver follows CNAMEs through it
and walks the name up looking for an SOA. For the answers we almost always get that is most of the
CPU of a query. :func:`plain_answer` reads exactly those shapes (the question echoed; only records
of the asked name and type, or no records at all with NOERROR or NXDOMAIN; nothing else) with the
same dnspython pieces (``dns.wire.Parser``, ``dns.name``, the rdata classes' ``from_wire_parser``),
so every record is validated as ``from_wire`` would, and returns None for anything else: the caller
then parses with ``from_wire`` and lets dnspython's resolver decide, so CNAMEs, errors, truncation,
EDNS, extra sections and malformed packets keep dnspython's behaviour exactly.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Hashable

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.wire

__all__ = ["Empty", "plain_answer", "query_wire"]

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_QUESTION = struct.Struct("!HH")
# QR must be set, opcode (QUERY) and TC zero; AA, RD, RA, AD, CD may be set; RCODE is checked apart.
_FLAGS_MASK, _FLAGS_WANT = 0xFA00, 0x8000
_NOERROR, _NXDOMAIN = 0, 3
_POINTER_TO_QNAME = b"\xc0\x0c"  # a compressed owner name that is the question name (offset 12)
_T = dns.rdatatype.RdataType

# What makes two records of a type equal, as the rdata equality an RRset deduplicates with:
# canonical wire forms, so MX exchange names compare without case.
_KEYS: dict[int, Callable[[dns.rdata.Rdata], Hashable]] = {
    _T.TXT: lambda rd: rd.strings,  # type: ignore[attr-defined]
    _T.MX: lambda rd: (rd.preference, rd.exchange),  # type: ignore[attr-defined]
    _T.A: lambda rd: rd.address,  # type: ignore[attr-defined]
    _T.AAAA: lambda rd: rd.address,  # type: ignore[attr-defined]
}


def query_wire(request: dns.message.Message) -> bytes:
    """``request.to_wire()``, built directly when the request is a header and one question.

    Anything more (EDNS, TSIG, records in other sections, a relative name) goes through
    ``to_wire`` itself.
    """
    if (
        len(request.question) != 1
        or request.opt is not None
        or request.tsig is not None
        or request.answer
        or request.authority
        or request.additional
    ):
        return request.to_wire()
    question = request.question[0]
    if not question.name.is_absolute():
        return request.to_wire()
    name = question.name.to_wire()
    assert name is not None  # returned, not written to a file
    header = _HEADER.pack(request.id, request.flags, 1, 0, 0, 0)
    return header + name + _QUESTION.pack(question.rdtype, question.rdclass)


class Empty(enum.Enum):
    """A plain answer without records: what the resolver makes NoAnswer or NXDOMAIN of."""

    NODATA = _NOERROR
    NXDOMAIN = _NXDOMAIN


def plain_answer(
    request: dns.message.Message, query: bytes, wire: bytes
) -> tuple[dns.rdata.Rdata, ...] | Empty | None:
    """The distinct records answering ``request`` (or :class:`Empty`); None when not plain.

    Plain: a response to ``request`` (sent as ``query``; its id checked by the caller) without
    truncation, with one question equal to the request's, no authority or additional records and no
    trailing bytes; and either NOERROR with answer records all of the question's name, type and
    class IN, or no records at all with NOERROR or NXDOMAIN. The request must be a QUERY of TXT,
    MX, A or AAAA without TSIG (else None, always).
    """
    if len(request.question) != 1 or request.keyring is not None or request.mac:
        return None
    question = request.question[0]
    key = _KEYS.get(question.rdtype)
    if key is None or question.rdclass != dns.rdataclass.IN or request.flags & 0x7800:
        return None
    try:
        return _read(wire, _question(query), question.name, question.rdtype, key)
    except Exception:  # malformed: from_wire will say so (and the packet be ignored)
        return None


def _question(query: bytes) -> bytes:
    """The question section of a query we rendered: an uncompressed name, type and class."""
    end = 12
    while query[end]:
        end += query[end] + 1
    return query[12 : end + 5]


def _read(
    wire: bytes,
    question: bytes,
    qname: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
    key: Callable[[dns.rdata.Rdata], Hashable],
) -> tuple[dns.rdata.Rdata, ...] | Empty | None:
    """Parse the plain shapes or give up with None (exceptions for malformed data)."""
    _, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
    if flags & _FLAGS_MASK != _FLAGS_WANT or (qdcount, nscount, arcount) != (1, 0, 0):
        return None
    rcode = flags & 0x000F  # without EDNS (no additional records), the whole rcode
    if rcode != _NOERROR and (rcode != _NXDOMAIN or ancount):
        return None
    parser = dns.wire.Parser(wire, 12)
    if wire[12 : 12 + len(question)] == question:  # our question echoed byte for byte
        parser.get_bytes(len(question))
    else:  # e.g. the name in other letter case, which still is the same name
        name = parser.get_name(None, True)
        if _QUESTION.unpack(parser.get_bytes(4)) != (qtype, dns.rdataclass.IN) or name != qname:
            return None
    if not ancount:
        return None if parser.remaining() else Empty(rcode)
    records: dict[Hashable, dns.rdata.Rdata] = {}
    rdata_class = dns.rdata.get_rdata_class(dns.rdataclass.IN, qtype)  # type: ignore[no-untyped-call]
    for _ in range(ancount):
        if not _owner_is_qname(parser, qname):
            return None
        rdtype, rdclass, _ttl, rdlen = _RR.unpack(parser.get_bytes(10))
        if rdtype != qtype or rdclass != dns.rdataclass.IN:
            return None
        with parser.restrict_to(rdlen):  # what dns.rdata.from_wire_parser does, without lookups
            rdata = rdata_class.from_wire_parser(dns.rdataclass.IN, qtype, parser, None)
        records.setdefault(key(rdata), rdata)  # the first of equal records stays, as in a set
    return None if parser.remaining() else tuple(records.values())


def _owner_is_qname(parser: dns.wire.Parser, qname: dns.name.Name) -> bool:
    """Read a record's owner name; True when it is the question name (usually a pointer to it)."""
    if parser.wire[parser.current : parser.current + 2] == _POINTER_TO_QNAME:
        parser.current += 2
        return True
    return bool(parser.get_name(None, True) == qname)
