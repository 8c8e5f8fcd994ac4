"""Domain XML for an instance (what Nova's ``LibvirtConfigGuest`` produces, small).

A TCG guest (``type='qemu'``): name ``instance-<uuid prefix>``, the instance's uuid,
memory and vCPUs from the flavor, direct kernel boot or disk boot as the backend's guest
image says, the root disk as a file (``<instances_path>/<uuid>/disk``) or a volume, one
virtio disk per volume (its ``connection_info`` device path), one interface per VIF, the
serial console written to a file, and Nova's ``<nova:instance>`` metadata.  Built with
plain string formatting: it runs once per boot on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from testbed.virt.backend import GuestBoot

__all__ = ["NOVA_NS", "GuestConfig", "GuestDisk", "domain_name", "guest_xml"]

NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"


def domain_name(instance_uuid: str) -> str:
    """The libvirt domain name of an instance."""
    return f"instance-{instance_uuid[:8]}"


@dataclass(frozen=True)
class GuestDisk:
    """A disk of the guest: a file on the host (local disk or volume)."""

    path: str
    target: str
    driver_type: str = "qcow2"
    serial: str | None = None


@dataclass
class GuestConfig:
    """Everything the domain XML says."""

    name: str
    uuid: str
    memory_mb: int
    vcpus: int
    boot: GuestBoot
    serial_log: str
    disks: list[GuestDisk] = field(default_factory=list)
    vifs: list[dict[str, Any]] = field(default_factory=list)
    cpu_model: str = "qemu64"
    metadata: dict[str, Any] = field(default_factory=dict)


def _text(value: Any) -> str:
    return escape(str(value))


def _os(boot: GuestBoot) -> str:
    lines = ["    <type arch='x86_64' machine='pc'>hvm</type>"]
    if boot.kernel:
        lines.append(f"    <kernel>{_text(boot.kernel)}</kernel>")
        if boot.initrd:
            lines.append(f"    <initrd>{_text(boot.initrd)}</initrd>")
        if boot.cmdline:
            lines.append(f"    <cmdline>{_text(boot.cmdline)}</cmdline>")
    else:
        lines.append("    <boot dev='hd'/>")
    return "\n".join(lines)


def disk_xml(disk: GuestDisk) -> str:
    """One ``<disk>`` element (also what volume attach sends)."""
    serial = f"\n      <serial>{_text(disk.serial)}</serial>" if disk.serial else ""
    return (
        "    <disk type='file' device='disk'>\n"
        f"      <driver name='qemu' type={quoteattr(disk.driver_type)} cache='none'/>\n"
        f"      <source file={quoteattr(disk.path)}/>\n"
        f"      <target dev={quoteattr(disk.target)} bus='virtio'/>{serial}\n"
        "    </disk>"
    )


def _interface(vif: dict[str, Any]) -> str:
    port = str(vif.get("port_id") or vif.get("id") or "")
    mac = vif.get("mac_address") or vif.get("address") or ""
    return (
        "    <interface type='ethernet'>\n"
        f"      <mac address={quoteattr(str(mac))}/>\n"
        "      <model type='virtio'/>\n"
        f"      <target dev={quoteattr('tap' + port[:11])}/>\n"
        "    </interface>"
    )


def _metadata(config: GuestConfig) -> str:
    meta = config.metadata
    flavor = meta.get("flavor") or {}
    ports = []
    for vif in config.vifs:
        ips = "".join(
            f"<nova:ip type='fixed' address={quoteattr(str(ip.get('ip_address')))} "
            f"ipVersion={quoteattr(str(ip.get('version', 4)))}/>"
            for ip in vif.get("fixed_ips") or []
        )
        ports.append(f"<nova:port uuid={quoteattr(str(vif.get('port_id', '')))}>{ips}</nova:port>")
    root = (
        f"<nova:root type='image' uuid={quoteattr(str(meta['image_ref']))}/>"
        if meta.get("image_ref")
        else ""
    )
    return (
        "  <metadata>\n"
        f"    <nova:instance xmlns:nova={quoteattr(NOVA_NS)}>\n"
        "      <nova:package version='nova-testbed'/>\n"
        f"      <nova:name>{_text(meta.get('display_name', ''))}</nova:name>\n"
        f"      <nova:creationTime>{_text(meta.get('creation_time', ''))}</nova:creationTime>\n"
        f"      <nova:flavor name={quoteattr(str(flavor.get('name', '')))}>"
        f"<nova:memory>{int(flavor.get('memory_mb', config.memory_mb))}</nova:memory>"
        f"<nova:disk>{int(flavor.get('root_gb', 0) or 0)}</nova:disk>"
        f"<nova:swap>{int(flavor.get('swap', 0) or 0)}</nova:swap>"
        f"<nova:ephemeral>{int(flavor.get('ephemeral_gb', 0) or 0)}</nova:ephemeral>"
        f"<nova:vcpus>{config.vcpus}</nova:vcpus></nova:flavor>\n"
        f"      <nova:owner><nova:user uuid={quoteattr(str(meta.get('user_id', '')))}/>"
        f"<nova:project uuid={quoteattr(str(meta.get('project_id', '')))}/></nova:owner>\n"
        f"      {root}<nova:ports>{''.join(ports)}</nova:ports>\n"
        "    </nova:instance>\n"
        "  </metadata>"
    )


def guest_xml(config: GuestConfig) -> str:
    """The domain XML for ``config``."""
    memory_kib = config.memory_mb * 1024
    devices = [disk_xml(d) for d in config.disks]
    devices += [_interface(v) for v in config.vifs]
    devices.append(
        "    <serial type='file'>\n"
        f"      <source path={quoteattr(config.serial_log)}/>\n"
        "      <target port='0'/>\n"
        "    </serial>"
    )
    device_xml = "\n".join(devices)
    cpu_model = f"<model fallback='allow'>{_text(config.cpu_model)}</model>"
    return f"""<domain type='qemu'>
  <name>{_text(config.name)}</name>
  <uuid>{_text(config.uuid)}</uuid>
{_metadata(config)}
  <memory unit='KiB'>{memory_kib}</memory>
  <currentMemory unit='KiB'>{memory_kib}</currentMemory>
  <vcpu placement='static'>{config.vcpus}</vcpu>
  <os>
{_os(config.boot)}
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='custom' match='exact' check='none'>{cpu_model}</cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
{device_xml}
    <memballoon model='none'/>
  </devices>
</domain>
"""
