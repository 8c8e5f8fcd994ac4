"""Domain XML out: what ``virDomainGetXMLDesc`` returns for a :class:`DomainSpec`."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fakevirt.domxml import (
    CharDev,
    Device,
    Disk,
    DomainSpec,
    Interface,
    MetaEntry,
    escape,
    serialize,
)

__all__ = ["to_xml"]


def _prefixed(entry: MetaEntry) -> str:
    def add(e: ET.Element) -> ET.Element:
        out = ET.Element(f"{{{entry.uri}}}{e.tag}", dict(e.attrib))
        out.text = e.text
        for child in e:
            c = add(child)
            c.tail = child.tail
            out.append(c)
        return out

    return serialize(add(entry.element), {entry.uri: entry.key}, declare=True, quote='"')


def _device_xml(dev: Device) -> str:
    i = "      "
    if isinstance(dev, Disk):
        lines = [f"    <disk type='{dev.type}' device='{dev.device}'>"]
        drv = "".join(
            f" {k}='{v}'"
            for k, v in (("name", dev.driver_name), ("type", dev.driver_type), ("cache", dev.cache))
            if v
        )
        if drv:
            lines.append(f"{i}<driver{drv}/>")
        if dev.source is not None:
            attr = {"file": "file", "block": "dev", "volume": "volume"}.get(dev.type, "name")
            lines.append(f"{i}<source {attr}='{escape(dev.source, True)}'/>")
        bus = f" bus='{dev.bus}'" if dev.bus else ""
        lines.append(f"{i}<target dev='{dev.target}'{bus}/>")
        if dev.readonly:
            lines.append(f"{i}<readonly/>")
        if dev.shareable:
            lines.append(f"{i}<shareable/>")
        lines += [i + x for x in dev.extra]
        return "\n".join([*lines, "    </disk>"])
    if isinstance(dev, Interface):
        lines = [f"    <interface type='{dev.type}'>"]
        if dev.mac:
            lines.append(f"{i}<mac address='{dev.mac}'/>")
        if dev.source_attr:
            lines.append(f"{i}<source {dev.source_attr}='{escape(dev.source or '', True)}'/>")
        if dev.target:
            lines.append(f"{i}<target dev='{dev.target}'/>")
        if dev.model:
            lines.append(f"{i}<model type='{dev.model}'/>")
        lines += [i + x for x in dev.extra]
        return "\n".join([*lines, "    </interface>"])
    if isinstance(dev, CharDev):
        lines = [f"    <{dev.kind} type='{dev.type}'>"]
        if dev.path:
            lines.append(f"{i}<source path='{escape(dev.path, True)}'/>")
        ttype = f" type='{dev.target_type}'" if dev.target_type else ""
        lines.append(f"{i}<target{ttype} port='{dev.port}'/>")
        lines += [i + x for x in dev.extra]
        return "\n".join([*lines, f"    </{dev.kind}>"])
    return "    " + dev


def to_xml(spec: DomainSpec, dom_id: int = -1, inactive: bool = False) -> str:
    """Emit the domain XML libvirt's XMLDesc returns for spec (id shown when running)."""
    idattr = f" id='{dom_id}'" if dom_id >= 0 and not inactive else ""
    out = [
        f"<domain type='{spec.type}'{idattr}>",
        f"  <name>{escape(spec.name)}</name>",
        f"  <uuid>{spec.uuid}</uuid>",
    ]
    if spec.title is not None:
        out.append(f"  <title>{escape(spec.title)}</title>")
    if spec.description is not None:
        out.append(f"  <description>{escape(spec.description)}</description>")
    if spec.metadata:
        out.append("  <metadata>")
        out += ["    " + _prefixed(m) for m in spec.metadata]
        out.append("  </metadata>")
    out += [
        f"  <memory unit='KiB'>{spec.memory_kib}</memory>",
        f"  <currentMemory unit='KiB'>{spec.current_kib}</currentMemory>",
        f"  <vcpu placement='static'>{spec.vcpus}</vcpu>",
        "  <os>",
    ]
    attrs = "".join(f" {k}='{v}'" for k, v in (("arch", spec.arch), ("machine", spec.machine)) if v)
    out.append(f"    <type{attrs}>{spec.os_type}</type>")
    for key in ("kernel", "initrd", "cmdline"):
        value = getattr(spec, key)
        if value is not None:
            out.append(f"    <{key}>{escape(value)}</{key}>")
    out += [f"    <boot dev='{b}'/>" for b in spec.boot]
    out.append("  </os>")
    out += list(spec.extra)
    out += [
        f"  <on_poweroff>{spec.on_poweroff}</on_poweroff>",
        f"  <on_reboot>{spec.on_reboot}</on_reboot>",
        f"  <on_crash>{spec.on_crash}</on_crash>",
        "  <devices>",
    ]
    out += [_device_xml(d) for d in spec.devices]
    out += ["  </devices>", "</domain>", ""]
    return "\n".join(out)
