"""Device hot-plug and metadata of a domain (attachDeviceFlags, setMetadata, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakevirt import actions, domxml
from fakevirt import constants as C
from fakevirt.errors import fail, fail_as
from fakevirt.model import DomainRecord, Host

if TYPE_CHECKING:
    from fakevirt.domain import virDomain


def _impact(rec: DomainRecord, flags: int) -> tuple[bool, bool]:
    """(live, config) the flags affect, with libvirt's checks."""
    live = bool(flags & C.VIR_DOMAIN_AFFECT_LIVE)
    config = bool(flags & C.VIR_DOMAIN_AFFECT_CONFIG)
    if not live and not config:
        live, config = rec.active, not rec.active
    if live and not rec.active:
        fail(C.VIR_ERR_OPERATION_INVALID, C.VIR_FROM_DOMAIN, "domain is not running")
    if config and not rec.persistent:
        fail(
            C.VIR_ERR_OPERATION_INVALID,
            C.VIR_FROM_DOMAIN,
            "transient domains do not have any persistent config",
        )
    return live, config


def _same(a: domxml.Device, b: domxml.Device) -> bool:
    if isinstance(a, domxml.Disk) and isinstance(b, domxml.Disk):
        return a.target == b.target
    if isinstance(a, domxml.Interface) and isinstance(b, domxml.Interface):
        return a.mac is not None and a.mac.lower() == (b.mac or "").lower()
    return a == b


def _missing(dev: domxml.Device) -> None:
    if isinstance(dev, domxml.Disk):
        fail(C.VIR_ERR_DEVICE_MISSING, C.VIR_FROM_QEMU, f"no target device {dev.target}")
    if isinstance(dev, domxml.Interface):
        fail(
            C.VIR_ERR_DEVICE_MISSING,
            C.VIR_FROM_DOMAIN,
            f"no device matching MAC address {dev.mac} found",
        )
    fail(C.VIR_ERR_DEVICE_MISSING, C.VIR_FROM_DOMAIN, "matching device not found")


def _parse(xml: str) -> domxml.Device:
    return domxml.parse_device(domxml.parse_element(xml, "(device_definition)"))


def attach(dom: virDomain, xml: str, flags: int, cname: str = "virDomainAttachDeviceFlags") -> int:
    """attachDeviceFlags."""
    host, rec = dom._enter(cname, "attachDevice", write=True)
    dev = _parse(xml)
    world = dom.connect().world
    with world.lock:
        live, config = _impact(rec, flags)
        targets = ([rec.spec] if live else []) + ([rec.config] if config and rec.config else [])
        for spec in targets:
            if any(_same(d, dev) for d in spec.devices):
                if isinstance(dev, domxml.Disk):
                    fail(
                        C.VIR_ERR_OPERATION_INVALID,
                        C.VIR_FROM_QEMU,
                        f"target {dev.target} already exists",
                    )
                fail(
                    C.VIR_ERR_OPERATION_FAILED,
                    C.VIR_FROM_DOMAIN,
                    "device is already in the domain configuration",
                )
        if live and isinstance(dev, domxml.Disk):
            _check_source(world, host, dev)
        _apply(rec, live, config, lambda devs: (*devs, dev))
    return 0


def _check_source(world: object, host: Host, dev: domxml.Disk) -> None:
    from fakevirt.world import World

    assert isinstance(world, World)
    probe = DomainRecord(
        spec=domxml.DomainSpec(
            type="qemu", name="-", uuid="-", memory_kib=0, current_kib=0, vcpus=1, devices=(dev,)
        ),
        config=None,
    )
    actions.check_disks(world, host, probe)


def _apply(rec: DomainRecord, live: bool, config: bool, change: object) -> None:
    fn = change  # Callable[[tuple[Device, ...]], tuple[Device, ...]]
    assert callable(fn)
    same = rec.config is rec.spec
    if live:
        rec.spec = rec.spec.with_changes(devices=fn(rec.spec.devices))
    if config and rec.config is not None:
        rec.config = (
            rec.spec if (same and live) else rec.config.with_changes(devices=fn(rec.config.devices))
        )
    if not rec.active and rec.config is not None:
        rec.spec = rec.config


def detach(dom: virDomain, xml: str, flags: int, cname: str = "virDomainDetachDeviceFlags") -> int:
    """detachDeviceFlags."""
    _, rec = dom._enter(cname, "detachDevice", write=True)
    dev = _parse(xml)
    world = dom.connect().world
    with world.lock:
        live, config = _impact(rec, flags)
        for spec in ([rec.spec] if live else []) + ([rec.config] if config and rec.config else []):
            if not any(_same(d, dev) for d in spec.devices):
                _missing(dev)
        _apply(rec, live, config, lambda devs: tuple(d for d in devs if not _same(d, dev)))
    return 0


def set_metadata(
    dom: virDomain, mtype: int, metadata: str | None, key: str | None, uri: str | None, flags: int
) -> int:
    """setMetadata."""
    _, rec = dom._enter("virDomainSetMetadata", "setMetadata", write=True)
    entry = None
    if mtype == C.VIR_DOMAIN_METADATA_ELEMENT:
        if not uri:
            fail(
                C.VIR_ERR_INVALID_ARG,
                C.VIR_FROM_DOMAIN,
                "uri in virDomainSetMetadata must not be NULL",
            )
        if metadata:
            if not key:
                fail(
                    C.VIR_ERR_INVALID_ARG,
                    C.VIR_FROM_DOMAIN,
                    "key in virDomainSetMetadata must not be NULL",
                )
            entry = domxml.metadata_element(metadata, key or "", uri or "")
    elif mtype not in (C.VIR_DOMAIN_METADATA_TITLE, C.VIR_DOMAIN_METADATA_DESCRIPTION):
        fail(C.VIR_ERR_INVALID_ARG, C.VIR_FROM_DOMAIN, f"unknown metadata type '{mtype}'")
    world = dom.connect().world
    with world.lock:
        live, config = _impact(rec, flags)

        def change(spec: domxml.DomainSpec) -> domxml.DomainSpec:
            if mtype == C.VIR_DOMAIN_METADATA_TITLE:
                return spec.with_changes(title=metadata or None)
            if mtype == C.VIR_DOMAIN_METADATA_DESCRIPTION:
                return spec.with_changes(description=metadata or None)
            kept = tuple(m for m in spec.metadata if m.uri != uri)
            return spec.with_changes(metadata=kept + ((entry,) if entry else ()))

        same = rec.config is rec.spec
        if live:
            rec.spec = change(rec.spec)
        if config and rec.config is not None:
            rec.config = rec.spec if (same and live) else change(rec.config)
        if not rec.active and rec.config is not None:
            rec.spec = rec.config
    return 0


def get_metadata(dom: virDomain, mtype: int, uri: str | None, flags: int) -> str:
    """metadata()."""
    host, rec = dom._enter("virDomainGetMetadata", "metadata")
    spec = rec.config if flags & C.VIR_DOMAIN_AFFECT_CONFIG and rec.config else rec.spec
    value: str | None = None
    if mtype == C.VIR_DOMAIN_METADATA_TITLE:
        value = spec.title
    elif mtype == C.VIR_DOMAIN_METADATA_DESCRIPTION:
        value = spec.description
    elif mtype == C.VIR_DOMAIN_METADATA_ELEMENT:
        for m in spec.metadata:
            if m.uri == uri:
                value = domxml.metadata_text(m)
    if value is None:
        fail_as(host.flavour, "no_metadata", "virDomainGetMetadata() failed")
    return value
