"""The capabilities XML of a fake host (``virConnect.getCapabilities``)."""

from __future__ import annotations

from fakevirt.model import Host


def _test_caps(h: Host) -> str:
    cells = []
    for cell, (mem, page) in enumerate(((2097152, 4), (4194304, 8))):
        cpus = "\n".join(
            f"            <cpu id='{cell * 8 + i}' socket_id='{cell}' die_id='0' "
            f"core_id='{i}' siblings='{cell * 8 + i}'/>"
            for i in range(8)
        )
        cells.append(f"""        <cell id='{cell}'>
          <memory unit='KiB'>{mem}</memory>
          <pages unit='KiB' size='{page}'>524288</pages>
          <pages unit='KiB' size='2048'>0</pages>
          <pages unit='KiB' size='1048576'>0</pages>
          <cpus num='8'>
{cpus}
          </cpus>
        </cell>""")
    guests = "".join(
        f"""  <guest>
    <os_type>{os}</os_type>
    <arch name='i686'>
      <wordsize>32</wordsize>
      <emulator>/usr/bin/test-hv</emulator>
      <domain type='test'/>
    </arch>
    <features>
      <pae/>
      <nonpae/>
    </features>
  </guest>

"""
        for os in ("hvm", "xen")
    )
    cell_text = "\n".join(cells)
    return f"""<capabilities>

  <host>
    <cpu>
      <arch>i686</arch>
      <features>
        <pae/>
        <nonpae/>
      </features>
      <pages unit='KiB' size='4'/>
      <pages unit='KiB' size='8'/>
      <pages unit='KiB' size='2048'/>
      <pages unit='KiB' size='1048576'/>
    </cpu>
    <power_management/>
    <iommu support='no'/>
    <topology>
      <cells num='2'>
{cell_text}
      </cells>
    </topology>
    <secmodel>
      <model>testSecurity</model>
      <doi></doi>
    </secmodel>
  </host>

{guests}</capabilities>
"""


def capabilities_xml(h: Host) -> str:
    """Capabilities as libvirt prints them: host UUID, CPU, NUMA topology, guests."""
    if h.flavour == "test":
        return _test_caps(h)
    cpus = "\n".join(
        f"            <cpu id='{i}' socket_id='0' die_id='0' core_id='{i}' siblings='{i}'/>"
        for i in range(h.vcpus)
    )
    return f"""<capabilities>

  <host>
    <uuid>{h.host_uuid}</uuid>
    <cpu>
      <arch>{h.arch}</arch>
      <model>{h.cpu_model}</model>
      <vendor>{h.cpu_vendor}</vendor>
      <microcode version='1'/>
      <counter name='tsc' frequency='{h.mhz * 1000000}'/>
      <topology sockets='1' dies='1' cores='{h.vcpus}' threads='1'/>
      <pages unit='KiB' size='4'/>
      <pages unit='KiB' size='2048'/>
      <pages unit='KiB' size='1048576'/>
    </cpu>
    <power_management/>
    <iommu support='no'/>
    <migration_features>
      <live/>
      <uri_transports>
        <uri_transport>tcp</uri_transport>
        <uri_transport>rdma</uri_transport>
      </uri_transports>
    </migration_features>
    <topology>
      <cells num='1'>
        <cell id='0'>
          <memory unit='KiB'>{h.memory_kib}</memory>
          <pages unit='KiB' size='4'>{h.memory_kib // 4}</pages>
          <pages unit='KiB' size='2048'>0</pages>
          <pages unit='KiB' size='1048576'>0</pages>
          <distances>
            <sibling id='0' value='10'/>
          </distances>
          <cpus num='{h.vcpus}'>
{cpus}
          </cpus>
        </cell>
      </cells>
    </topology>
    <secmodel>
      <model>none</model>
      <doi>0</doi>
    </secmodel>
  </host>

  <guest>
    <os_type>hvm</os_type>
    <arch name='{h.arch}'>
      <wordsize>64</wordsize>
      <emulator>/usr/bin/qemu-system-{h.arch}</emulator>
      <machine maxCpus='255'>pc-i440fx-7.2</machine>
      <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
      <machine maxCpus='288'>pc-q35-7.2</machine>
      <machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>
      <domain type='qemu'/>
    </arch>
    <features>
      <acpi default='on' toggle='yes'/>
      <apic default='on' toggle='no'/>
      <cpuselection/>
      <deviceboot/>
      <disksnapshot default='on' toggle='no'/>
    </features>
  </guest>

</capabilities>
"""
