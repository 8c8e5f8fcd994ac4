"""The ``operation_failure`` fault: one libvirt call fails the way libvirt reports it.

A call is named by its libvirt-python method (``createWithFlags``), its C function
(``virDomainCreateWithFlags``) or its family (``create``: ``create`` and
``createWithFlags``; likewise ``destroy``, ``shutdown``, ``undefine``, ``defineXML``,
``attachDevice``, ``detachDevice``). The fault raises before the call changes anything, with
the error code, domain and message the QEMU driver reports when that operation fails for
real (see :data:`DEFAULT_ERRORS`), or those the fault gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakevirt import constants as C
from fakevirt.errors import fail

if TYPE_CHECKING:
    from fakevirt.faults import Fault
    from fakevirt.model import Host
    from fakevirt.world import World

_STATE_LOCK = (
    C.VIR_ERR_OPERATION_TIMEOUT,
    C.VIR_FROM_QEMU,
    "cannot acquire state change lock (held by monitor=remoteDispatchDomainMigratePerform3Params)",
)

#: family or method -> (code, domain, detail). The detail may use {name}, {uuid}, {pid} and
#: {host}. libvirt 9.0's QEMU driver messages for these failures in the field.
DEFAULT_ERRORS: dict[str, tuple[int, int, str]] = {
    "create": (
        C.VIR_ERR_INTERNAL_ERROR,
        C.VIR_FROM_QEMU,
        "process exited while connecting to monitor: qemu-system-x86_64: "
        "cannot set up guest memory 'pc.ram': Cannot allocate memory",
    ),
    "createXML": (
        C.VIR_ERR_INTERNAL_ERROR,
        C.VIR_FROM_QEMU,
        "process exited while connecting to monitor: qemu-system-x86_64: "
        "cannot set up guest memory 'pc.ram': Cannot allocate memory",
    ),
    "destroy": (
        C.VIR_ERR_SYSTEM_ERROR,
        C.VIR_FROM_NONE,
        "Failed to terminate process {pid} with SIGKILL: Device or resource busy",
    ),
    "defineXML": (
        C.VIR_ERR_SYSTEM_ERROR,
        C.VIR_FROM_NONE,
        "cannot write data to file '/etc/libvirt/qemu/{name}.xml.new': No space left on device",
    ),
    "undefine": (
        C.VIR_ERR_SYSTEM_ERROR,
        C.VIR_FROM_DOMAIN,
        "cannot remove config /etc/libvirt/qemu/{name}.xml: Permission denied",
    ),
    "resume": (C.VIR_ERR_OPERATION_FAILED, C.VIR_FROM_QEMU, "resume operation failed"),
    "managedSave": (
        C.VIR_ERR_OPERATION_FAILED,
        C.VIR_FROM_QEMU,
        "domain save job: unexpectedly failed",
    ),
    "migrateToURI3": (
        C.VIR_ERR_OPERATION_FAILED,
        C.VIR_FROM_QEMU,
        "migration out job: unexpectedly failed",
    ),
    "attachDevice": (
        C.VIR_ERR_INTERNAL_ERROR,
        C.VIR_FROM_QEMU,
        "unable to execute QEMU command 'blockdev-add': Failed to get \"write\" lock",
    ),
    "detachDevice": (
        C.VIR_ERR_INTERNAL_ERROR,
        C.VIR_FROM_QEMU,
        "unable to execute QEMU command 'device_del': Device 'virtio-disk1' is already in "
        "the process of unplug",
    ),
    # shutdown, suspend, reboot, reset and everything else: a domain job that never ends.
}

# C names whose libvirt-python method is not the C name without its prefix.
_METHODS = {
    "virDomainGetInfo": "info",
    "virDomainGetState": "state",
    "virDomainGetXMLDesc": "XMLDesc",
    "virDomainGetOSType": "OSType",
    "virDomainGetMaxMemory": "maxMemory",
    "virDomainGetJobStats": "jobStats",
    "virDomainGetJobInfo": "jobInfo",
    "virDomainGetMetadata": "metadata",
    "virDomainLookupByName": "lookupByName",
    "virDomainLookupByUUIDString": "lookupByUUIDString",
    "virDomainLookupByID": "lookupByID",
    "virNodeGetInfo": "getInfo",
    "virNodeGetCPUMap": "getCPUMap",
    "virNodeGetFreeMemory": "getFreeMemory",
}
_FAMILIES = {
    "createWithFlags": "create",
    "destroyFlags": "destroy",
    "shutdownFlags": "shutdown",
    "undefineFlags": "undefine",
    "defineXMLFlags": "defineXML",
    "attachDeviceFlags": "attachDevice",
    "detachDeviceFlags": "detachDevice",
}


def method_of(cname: str) -> str:
    """The libvirt-python method name of a C API function name."""
    known = _METHODS.get(cname)
    if known is not None:
        return known
    for prefix in ("virDomain", "virConnect", "virNode"):
        if cname.startswith(prefix):
            rest = cname[len(prefix) :]
            return rest[:1].lower() + rest[1:]
    return cname


def call_names(cname: str, op: str) -> tuple[str, ...]:
    """Every name a fault's ``op`` may use for this call: method, C name, family."""
    method = method_of(cname)
    return (op, cname, method, _FAMILIES.get(method, method))


def matches_call(fault_op: str | None, cname: str, op: str) -> bool:
    """True when a fault's ``op`` names this call (None names every call)."""
    return fault_op is None or fault_op in call_names(cname, op)


def check(world: World, host: Host, cname: str, op: str, domain: str | None) -> None:
    """Raise the error of an active ``operation_failure`` fault that names this call."""
    fault = world.take_first(
        lambda f: (
            f.kind == "operation_failure"
            and (f.host is None or f.host == host.hostname)
            and (f.domain is None or f.domain == domain)
            and matches_call(f.op, cname, op)
        )
    )
    if fault is not None:
        raise_for(world, host, fault, cname, op, domain)


def _constant(value: int | str | None, prefix: str) -> int | None:
    if value is None or isinstance(value, int):
        return value
    name = value if value.startswith(prefix) else prefix + value.upper()
    return int(getattr(C, name))


def default_error(cname: str, op: str) -> tuple[int, int, str]:
    """(code, domain, detail format) libvirt's QEMU driver reports when this call fails."""
    names = call_names(cname, op)
    for name in (names[2], names[3], op):
        if name in DEFAULT_ERRORS:
            return DEFAULT_ERRORS[name]
    return _STATE_LOCK


def raise_for(
    world: World, host: Host, fault: Fault, cname: str, op: str, domain: str | None
) -> None:
    """Report and raise the fault's error for this call."""
    code, edomain, fmt = default_error(cname, op)
    if fault.code is not None:
        code = _constant(fault.code, "VIR_ERR_") or code
    if fault.error_domain is not None:
        edomain = _constant(fault.error_domain, "VIR_FROM_") or C.VIR_FROM_NONE
    rec = host.by_name(domain) if domain else None
    fields = {
        "name": domain or "",
        "uuid": rec.spec.uuid if rec is not None else "",
        "pid": 4000 + (rec.id if rec is not None and rec.id > 0 else 0),
        "host": host.hostname,
    }
    detail = fault.message if fault.message is not None else fmt.format(**fields)
    fail(code, edomain, detail, f"{cname}() failed")


def validate(fault: Fault) -> None:
    """Check an operation_failure fault's parameters (ValueError when wrong)."""
    if not fault.op:
        raise ValueError("operation_failure needs op (e.g. createWithFlags, migrateToURI3)")
    try:
        _constant(fault.code, "VIR_ERR_")
        _constant(fault.error_domain, "VIR_FROM_")
    except AttributeError as exc:
        raise ValueError(f"unknown libvirt constant: {exc}") from exc
