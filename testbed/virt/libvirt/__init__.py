"""The libvirt driver: :class:`~testbed.virt.libvirt.driver.LibvirtDriver` over any module
with libvirt-python's API (``fakevirt`` or the real ``libvirt``)."""
