"""Domain XML: parsed once into a :class:`DomainSpec`, re-emitted by :func:`to_xml`.

Understood: name, uuid, title, description, metadata, memory/currentMemory (any unit), vcpu,
os (type/arch/machine, kernel, initrd, cmdline, boot), on_* actions, and the devices disk
(file or block source, target, driver, readonly/shareable), interface, serial and console.
Other top-level elements and other devices are kept verbatim and re-emitted in place, so a
definition round-trips. Errors are libvirt's: malformed XML -> VIR_ERR_XML_DETAIL, a wrong
root -> VIR_ERR_XML_ERROR, no name -> VIR_ERR_NO_NAME, no type -> VIR_ERR_INTERNAL_ERROR.
"""

from __future__ import annotations

import re
import uuid as uuidlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import overload

from fakevirt import constants as C
from fakevirt.errors import fail

_UNITS = {
    "b": 1,
    "bytes": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1 << 20,
    "mib": 1 << 20,
    "mb": 10**6,
    "g": 1 << 30,
    "gib": 1 << 30,
    "gb": 10**9,
    "t": 1 << 40,
    "tib": 1 << 40,
    "tb": 10**12,
}
_NS_RE = re.compile(r"xmlns:([A-Za-z_][\w.-]*)\s*=\s*[\"']([^\"']*)[\"']")


@dataclass(frozen=True)
class Disk:
    """A ``<disk>`` device."""

    type: str = "file"
    device: str = "disk"
    source: str | None = None
    target: str = ""
    bus: str | None = None
    driver_name: str | None = None
    driver_type: str | None = None
    cache: str | None = None
    readonly: bool = False
    shareable: bool = False
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class Interface:
    """An ``<interface>`` device."""

    type: str = "network"
    mac: str | None = None
    source_attr: str | None = None
    source: str | None = None
    model: str | None = None
    target: str | None = None
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class CharDev:
    """A ``<serial>`` or ``<console>`` device."""

    kind: str = "serial"
    type: str = "pty"
    path: str | None = None
    target_type: str | None = None
    port: int | None = 0
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetaEntry:
    """One custom ``<metadata>`` element: namespace prefix, URI and the element (no prefix)."""

    key: str
    uri: str
    element: ET.Element


Device = Disk | Interface | CharDev | str


@dataclass(frozen=True)
class DomainSpec:
    """The parsed definition of a domain. Treated as immutable: changes make a new spec."""

    type: str
    name: str
    uuid: str
    memory_kib: int
    current_kib: int
    vcpus: int
    os_type: str = "hvm"
    arch: str | None = None
    machine: str | None = None
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    boot: tuple[str, ...] = ()
    title: str | None = None
    description: str | None = None
    metadata: tuple[MetaEntry, ...] = ()
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "destroy"
    extra: tuple[str, ...] = ()
    devices: tuple[Device, ...] = field(default=())

    @property
    def disks(self) -> list[Disk]:
        """The disk devices."""
        return [d for d in self.devices if isinstance(d, Disk)]

    def with_changes(self, **changes: object) -> DomainSpec:
        """A copy with some fields replaced (a plain copy: specs have no derived fields)."""
        unknown = changes.keys() - _SPEC_FIELDS
        if unknown:
            raise TypeError(f"DomainSpec has no fields {sorted(unknown)}")
        copy: DomainSpec = object.__new__(DomainSpec)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        return copy

    def with_uuid(self, uuid: str) -> DomainSpec:
        """A copy with another UUID."""
        return self.with_changes(uuid=uuid)


_SPEC_FIELDS = frozenset(f.name for f in dataclass_fields(DomainSpec))
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def _xml_fail(code: int, domain: int, detail: str | None) -> None:
    fail(code, domain, detail, "virDomainDefineXML() failed")


def parse_element(text: str, what: str = "domain_definition") -> ET.Element:
    """Parse XML text or raise libvirt's VIR_ERR_XML_DETAIL."""
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 1
        msg = str(exc).split(":")[0]
        src = text.splitlines()[line - 1] if text.splitlines() else ""
        col = exc.position[1] if exc.position else 0
        fail(
            C.VIR_ERR_XML_DETAIL,
            C.VIR_FROM_DOMAIN,
            f"({what}):{line}: {msg}\n{src}\n{'-' * col}^",
            "XML parse failed",
        )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def escape(text: str, attr: bool = False) -> str:
    """Escape text (and with ``attr`` single quotes) for XML as libvirt prints it."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("'", "&apos;") if attr else text


def serialize(
    elem: ET.Element,
    prefixes: dict[str, str] | None = None,
    declare: bool = False,
    indent: str = "",
    quote: str = "'",
) -> str:
    """Serialise an element the way libvirt prints it (single-quoted attributes).

    ``prefixes`` maps namespace URIs to prefixes; with ``declare`` the root declares them.
    With ``indent`` (the root's indentation) element-only content is pretty-printed.
    Metadata elements are printed by libxml2 with double quotes (``quote='"'``).
    """
    q = quote
    prefixes = prefixes or {}
    pretty = bool(indent)

    def name(tag: str) -> str:
        if tag.startswith("{"):
            uri, local = tag[1:].split("}", 1)
            pre = prefixes.get(uri)
            return f"{pre}:{local}" if pre else local
        return tag

    def ser(e: ET.Element, root: bool, pad: str) -> str:
        attrs = "".join(f" {name(k)}={q}{escape(v, True)}{q}" for k, v in e.attrib.items())
        if root and declare:
            attrs = (
                "".join(f" xmlns:{p}={q}{escape(u, True)}{q}" for u, p in prefixes.items()) + attrs
            )
        tag = name(e.tag)
        text = e.text or ""
        if pretty and len(e) and not text.strip():
            inner = "".join(f"\n{pad}  " + ser(c, False, pad + "  ") for c in e)
            return f"<{tag}{attrs}>{inner}\n{pad}</{tag}>"
        inner = escape(text) + "".join(ser(c, False, pad) + escape(c.tail or "") for c in e)
        return f"<{tag}{attrs}>{inner}</{tag}>" if inner else f"<{tag}{attrs}/>"

    return indent + ser(elem, True, indent)


def _size_kib(elem: ET.Element | None) -> int | None:
    if elem is None or elem.text is None:
        return None
    try:
        value = int(elem.text.strip())
    except ValueError:
        fail(
            C.VIR_ERR_XML_ERROR,
            C.VIR_FROM_DOMAIN,
            f"Invalid value '{elem.text.strip()}' for element or attribute './{elem.tag}[1]'",
            "virDomainDefineXML() failed",
        )
    unit = (elem.get("unit") or "KiB").lower()
    if unit not in _UNITS:
        fail(C.VIR_ERR_INVALID_ARG, C.VIR_FROM_NONE, f"unknown suffix '{elem.get('unit')}'")
    return value * _UNITS[unit] // 1024


def parse_device(elem: ET.Element, raw_text: str | None = None) -> Device:
    """Parse one device element (disk, interface, serial, console; others kept verbatim)."""
    tag = elem.tag
    if tag == "disk":
        src = elem.find("source")
        tgt = elem.find("target")
        drv = elem.find("driver")
        dtype = elem.get("type", "file")
        path = None
        if src is not None:
            path = src.get("file") or src.get("dev") or src.get("name") or src.get("volume")
        known = {"source", "target", "driver", "readonly", "shareable"}
        return Disk(
            type=dtype,
            device=elem.get("device", "disk"),
            source=path,
            target="" if tgt is None else tgt.get("dev", ""),
            bus=None if tgt is None else tgt.get("bus"),
            driver_name=None if drv is None else drv.get("name"),
            driver_type=None if drv is None else drv.get("type"),
            cache=None if drv is None else drv.get("cache"),
            readonly=elem.find("readonly") is not None,
            shareable=elem.find("shareable") is not None,
            extra=tuple(serialize(c, indent="      ")[6:] for c in elem if c.tag not in known),
        )
    if tag == "interface":
        mac = elem.find("mac")
        src = elem.find("source")
        model = elem.find("model")
        tgt = elem.find("target")
        sattr, sval = (None, None)
        if src is not None and src.attrib:
            sattr, sval = next(iter(src.attrib.items()))
        known = {"mac", "source", "model", "target"}
        return Interface(
            type=elem.get("type", "network"),
            mac=None if mac is None else mac.get("address"),
            source_attr=sattr,
            source=sval,
            model=None if model is None else model.get("type"),
            target=None if tgt is None else tgt.get("dev"),
            extra=tuple(serialize(c, indent="      ")[6:] for c in elem if c.tag not in known),
        )
    if tag in ("serial", "console"):
        src = elem.find("source")
        tgt = elem.find("target")
        port = None if tgt is None else tgt.get("port")
        return CharDev(
            kind=tag,
            type=elem.get("type", "pty"),
            path=None if src is None else src.get("path"),
            target_type=None if tgt is None else tgt.get("type"),
            port=int(port) if port is not None else 0,
            extra=tuple(serialize(c) for c in elem if c.tag not in ("source", "target")),
        )
    return serialize(elem, indent="    ")[4:]


_HANDLED = frozenset(
    (
        "name",
        "uuid",
        "title",
        "description",
        "metadata",
        "memory",
        "currentMemory",
        "vcpu",
        "os",
        "on_poweroff",
        "on_reboot",
        "on_crash",
        "devices",
    )
)


@overload
def _text(top: dict[str, ET.Element], tag: str) -> str: ...


@overload
def _text(top: dict[str, ET.Element], tag: str, missing: None) -> str | None: ...


def _text(top: dict[str, ET.Element], tag: str, missing: str | None = "") -> str | None:
    """The text of the first child ``tag`` ("" when empty), ``missing`` when absent."""
    elem = top.get(tag)
    if elem is None:
        return missing
    return elem.text or ""


def parse_domain(text: str) -> DomainSpec:
    """Parse domain XML into a spec, raising the libvirtError libvirt raises."""
    root = parse_element(text)
    if root.tag != "domain":
        _xml_fail(
            C.VIR_ERR_XML_ERROR,
            C.VIR_FROM_XML,
            f"expecting root element of 'domain', not '{_local(root.tag)}'",
        )
    dtype = root.get("type")
    if not dtype:
        _xml_fail(C.VIR_ERR_INTERNAL_ERROR, C.VIR_FROM_DOMAIN, "missing domain type attribute")
    top: dict[str, ET.Element] = {}
    for child in root:
        top.setdefault(child.tag, child)
    name = _text(top, "name").strip()
    if not name:
        _xml_fail(C.VIR_ERR_NO_NAME, C.VIR_FROM_DOMAIN, None)
    uuid_text = _text(top, "uuid").strip()
    if uuid_text and not _CANONICAL_UUID.match(uuid_text):
        try:
            uuid_text = str(uuidlib.UUID(uuid_text))
        except ValueError:
            _xml_fail(C.VIR_ERR_INTERNAL_ERROR, C.VIR_FROM_DOMAIN, "malformed uuid element")
    elif not uuid_text:
        uuid_text = str(uuidlib.uuid4())
    memory = _size_kib(top.get("memory"))
    if memory is None:
        _xml_fail(
            C.VIR_ERR_XML_ERROR,
            C.VIR_FROM_DOMAIN,
            "Memory size must be specified via <memory> or in the <numa> configuration",
        )
    assert memory is not None
    current = _size_kib(top.get("currentMemory")) or memory
    vcpu_text = (_text(top, "vcpu") or "1").strip()
    try:
        vcpus = int(vcpu_text)
    except ValueError:
        _xml_fail(C.VIR_ERR_XML_ERROR, C.VIR_FROM_DOMAIN, "maximum vcpus count must be an integer")
    os_el = top.get("os")
    fields: dict[str, object] = {}
    if os_el is not None:
        t = os_el.find("type")
        if t is not None:
            fields.update(
                os_type=(t.text or "hvm").strip(), arch=t.get("arch"), machine=t.get("machine")
            )
        for key in ("kernel", "initrd", "cmdline"):
            value = os_el.findtext(key)
            if value is not None:
                fields[key] = value
        fields["boot"] = tuple(b.get("dev", "hd") for b in os_el.findall("boot"))
    meta: list[MetaEntry] = []
    md = top.get("metadata")
    if md is not None:
        prefixes = {uri: pre for pre, uri in _NS_RE.findall(text)}
        for child in md:
            uri = child.tag[1:].split("}", 1)[0] if child.tag.startswith("{") else ""
            meta.append(MetaEntry(prefixes.get(uri, "ns0"), uri, _strip_ns(child)))
    devices: list[Device] = []
    dev_el = top.get("devices")
    if dev_el is not None:
        devices = [parse_device(d) for d in dev_el]
    return DomainSpec(
        type=dtype or "",
        name=name,
        uuid=uuid_text,
        memory_kib=memory,
        current_kib=current,
        vcpus=vcpus,
        title=_text(top, "title", None),
        description=_text(top, "description", None),
        metadata=tuple(meta),
        on_poweroff=(_text(top, "on_poweroff") or "destroy").strip(),
        on_reboot=(_text(top, "on_reboot") or "restart").strip(),
        on_crash=(_text(top, "on_crash") or "destroy").strip(),
        extra=tuple(serialize(c, indent="  ") for c in root if c.tag not in _HANDLED),
        devices=tuple(devices),
        **fields,  # type: ignore[arg-type]
    )


def _strip_ns(elem: ET.Element) -> ET.Element:
    """A copy of elem with namespaces removed from every tag (as metadata() returns it)."""
    out = ET.Element(_local(elem.tag), dict(elem.attrib))
    out.text, out.tail = elem.text, None
    for child in elem:
        c = _strip_ns(child)
        c.tail = child.tail
        out.append(c)
    return out


def metadata_element(text: str, key: str, uri: str) -> MetaEntry:
    """Parse the XML given to setMetadata(VIR_DOMAIN_METADATA_ELEMENT, ...)."""
    return MetaEntry(key, uri, _strip_ns(parse_element(text, "(metadata_xml)")))


def metadata_text(entry: MetaEntry) -> str:
    """What metadata(VIR_DOMAIN_METADATA_ELEMENT, uri) returns (no namespace prefix)."""
    return ET.tostring(entry.element, encoding="unicode")
