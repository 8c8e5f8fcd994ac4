"""The report's colours, in one place (the CSS reads them as custom properties).

Tests use these constants to find the matrix and the diagrams in a browser screenshot.
"""

from __future__ import annotations

from typing import Final

#: CSS custom properties emitted into ``:root``; style.css refers to them by name.
COLOURS: Final[dict[str, str]] = {
    "bg": "#f5f6f8",
    "card": "#ffffff",
    "ink": "#1f2328",
    "muted": "#5d6670",
    "line": "#d8dde3",
    "accent": "#3b5bdb",
    "pass": "#1f883d",
    "fail": "#cf222e",
    "error": "#a0111f",
    "skip": "#8a6a00",
    "pass-bg": "#d3f5dc",
    "fail-bg": "#ffdcd9",
    "skip-bg": "#f4ecd0",
    "empty-bg": "#f0f2f4",
    "differs": "#b35900",
    "differs-bg": "#fff1d6",
    "head": "#dfe5fb",
    "head-ink": "#27378a",
    "http": "#1f6feb",
    "rpc": "#7a4fd6",
    "reply": "#6e7781",
    "driver": "#0f7b83",
    "note-bg": "#fff6c8",
    "note-line": "#d7b941",
    "fault-bg": "#ffd8d3",
    "lane-bg": "#eef0f3",
}

#: Matrix cell backgrounds by status (used by the screenshot test).
MATRIX_PASS_BG: Final = COLOURS["pass-bg"]
MATRIX_FAIL_BG: Final = COLOURS["fail-bg"]
#: Fill of sequence-diagram lifeline heads (used by the screenshot test).
LIFELINE_HEAD_FILL: Final = COLOURS["head"]

#: Fixed colours of well-known states; anything else takes a stable fallback colour.
STATE_FILLS: Final[dict[str, dict[str, str]]] = {
    "vm_state": {
        "active": "#8fd9a0",
        "building": "#9cc7ff",
        "stopped": "#c3cad2",
        "paused": "#f2d27a",
        "suspended": "#d4bcff",
        "rescued": "#ffc38a",
        "resized": "#c7b3ff",
        "soft-delete": "#f5b8a8",
        "deleted": "#98a1ab",
        "error": "#ff8f8a",
        "shelved": "#d9c7a0",
        "shelved_offloaded": "#c4b08a",
    },
    "task_state": {
        "scheduling": "#b8dcff",
        "block_device_mapping": "#a6e3e9",
        "networking": "#a8e6cf",
        "spawning": "#9cc7ff",
        "deleting": "#f5b8a8",
        "powering-off": "#d5dae0",
        "powering-on": "#bfe8c8",
        "migrating": "#ffd59a",
        "resize_prep": "#f9e2a6",
        "resize_migrating": "#ffd59a",
        "resize_migrated": "#ffe7b8",
        "resize_finish": "#e8d6ff",
        "resize_reverting": "#ffc7b3",
        "resize_confirming": "#d6f0b2",
        "rebuilding": "#f7c6e6",
        "rebuild_spawning": "#ecb8ff",
        "rebooting": "#c8d6ff",
        "pausing": "#f2d27a",
        "unpausing": "#f7e1a1",
        "suspending": "#d4bcff",
        "resuming": "#e2d4ff",
    },
    "power_state": {
        "RUNNING": "#8fd9a0",
        "SHUTDOWN": "#c3cad2",
        "PAUSED": "#f2d27a",
        "SUSPENDED": "#d4bcff",
        "CRASHED": "#ff8f8a",
        "NOSTATE": "#e4e7eb",
    },
}

FALLBACK_FILLS: Final[tuple[str, ...]] = (
    "#b8dcff",
    "#ffd59a",
    "#c7b3ff",
    "#a8e6cf",
    "#f7c6e6",
    "#f9e2a6",
    "#a6e3e9",
    "#ffc7b3",
    "#d6f0b2",
    "#c8d6ff",
)


def css_variables() -> str:
    """The ``:root { --name: colour; ... }`` block for the page."""
    body = ";".join(f"--{name}:{value}" for name, value in COLOURS.items())
    return f":root{{{body}}}"
