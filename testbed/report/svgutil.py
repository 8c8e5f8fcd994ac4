"""Small helpers shared by the SVG renderers: escaping, text fitting, number formatting."""

from __future__ import annotations

import html
import re

#: Average glyph width, in px, of the 11 px sans-serif used for SVG labels.
CHAR_W = 6.3

_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def clean(text: str) -> str:
    """Drop ANSI colour sequences and characters that are invalid in HTML and XML 1.0."""
    text = _CONTROL.sub("", text)
    # Lone surrogates cannot be encoded as UTF-8.
    return text.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(text) else text


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def esc(text: str) -> str:
    """Escape ``text`` for HTML/SVG text and double-quoted attributes."""
    return html.escape(clean(text), quote=True)


def fit(text: str, width: float) -> tuple[str, bool]:
    """Shorten ``text`` with an ellipsis to fit ``width`` px; returns (text, was_shortened)."""
    room = max(int(width / CHAR_W), 1)
    if len(text) <= room:
        return text, False
    return (text[: room - 1] + "\u2026") if room > 1 else "\u2026", True


def text_width(text: str) -> float:
    """Estimated rendered width of ``text`` in px."""
    return len(text) * CHAR_W


def fmt_seconds(value: float) -> str:
    """Seconds in a short human form: ``0.042 s``, ``1.3 s``, ``12 s``, ``2 min 5 s``."""
    if value < 0:
        return "-" + fmt_seconds(-value)
    if value >= 120:
        minutes, seconds = divmod(round(value), 60)
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    if value >= 10:
        return f"{value:.0f} s"
    if value >= 1:
        return f"{value:.1f} s"
    if value == 0:
        return "0 s"
    if value >= 0.01:
        return f"{value:.2f} s"
    return f"{value * 1000:.1f} ms"


def offset_format(span: float) -> str:
    """A ``str.format`` pattern for time offsets within ``span`` seconds (fixed decimals)."""
    return "{:.3f}" if span < 1 else "{:.2f}" if span < 100 else "{:.1f}"


def nice_step(span: float, target_ticks: int = 8) -> float:
    """A 1-2-5 step giving about ``target_ticks`` ticks over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / max(target_ticks, 1)
    magnitude = 10.0 ** _floor_log10(raw)
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10.0 * magnitude


def _floor_log10(value: float) -> int:
    exponent = 0
    while value >= 10:
        value /= 10
        exponent += 1
    while value < 1:
        value *= 10
        exponent -= 1
    return exponent


def tick_label(value: float, step: float) -> str:
    """Axis label for ``value`` with as many decimals as ``step`` needs."""
    decimals = 0
    while step < 1 and decimals < 6:
        step *= 10
        decimals += 1
    return f"{value:.{decimals}f}"
