"""A stand-in storage backend for ``runtime.virt``: records what the volume service asks
of it (the real one belongs to the hypervisor backends)."""

from __future__ import annotations


class RecordingStorage:
    """``create_volume``/``delete_volume`` as ``runtime.virt`` offers them."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.created: dict[str, int] = {}
        self.deleted: list[str] = []

    def create_volume(self, volume_id: str, size_gb: int) -> str:
        if self.fail:
            raise OSError("disk full")
        self.created[volume_id] = size_gb
        return f"/srv/volumes/{volume_id}"

    def delete_volume(self, volume_id: str) -> None:
        self.deleted.append(volume_id)
